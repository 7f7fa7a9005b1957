"""Payment channels' sending side for development and tests: development keys (`dev`),
notifications signed as each channel signs them (`testing`, `sender`). Nothing here receives
money; the receiving side is `services/payments/channels/`."""
