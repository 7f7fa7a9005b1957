"""Canbao's own small library shared by the four services."""
