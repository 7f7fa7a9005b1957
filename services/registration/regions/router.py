"""Regions API: the shipped MCA division tree (provinces to townships, read from the file
shipped with the service) plus villages uploaded per county and kept in the database."""

from __future__ import annotations

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from pydantic import BaseModel

from kernels.regions import Region, RegionTree, load_regions
from kernels.regions.codes import InvalidRegionCode, pad_code
from services.registration import events
from services.registration.common import (
    decode_cursor,
    encode_cursor,
    read_upload,
    refuse_upload,
)
from services.registration.deps import OutboxDep, UnitOfWorkDep
from services.registration.regions import parse_village_upload
from services.registration.regions.repository import VillageRepository
from shared.auth import current_principal, require_region
from shared.errors import Invalid, NotFound

router = APIRouter(prefix="/v1/regions", tags=["regions"])
CODE = Path(pattern=r"^\d{6}(\d{3})?(\d{3})?$")


class RegionPublic(BaseModel):
    code: str
    division_code: str
    parent_code: str | None
    level: str
    name: str
    path_name: str | None = None


class RegionPage(BaseModel):
    items: list[RegionPublic]
    next_cursor: str | None


async def tree_with_villages(villages: VillageRepository,
                             county_code: str | None = None) -> RegionTree:
    """The shipped tree plus the uploaded villages (of one county, or all)."""
    extra = await villages.of_county(county_code)
    return load_regions().with_regions(extra) if extra else load_regions()


def _public(region: Region, tree: RegionTree | None = None) -> RegionPublic:
    return RegionPublic(code=region.code, division_code=region.division_code,
                        parent_code=region.parent_code, level=region.level, name=region.name,
                        path_name=tree.path_name(region.code) if tree else None)


async def _find(villages: VillageRepository, code: str) -> Region:
    try:
        full = pad_code(code)
    except InvalidRegionCode as exc:
        raise Invalid(str(exc), field="code", code="invalid_region_code") from None
    region = load_regions().get(full)
    if region is None:
        region = await villages.get(full)
        if region is None:
            raise NotFound(f"no region {code}", code="region_not_found", params={"code": code})
    return region


@router.get("/{code}", response_model=RegionPublic)
async def get_region(session: UnitOfWorkDep, code: str = CODE) -> RegionPublic:
    region = await _find(VillageRepository(session), code)
    tree = load_regions()
    if region.level == "village":
        public = _public(region)
        public.path_name = tree.path_name(region.parent_code or "") + region.name
        return public
    return _public(region, tree)


@router.get("/{code}/children", response_model=RegionPage)
async def region_children(session: UnitOfWorkDep, code: str = CODE, cursor: str | None = None,
                          limit: int = Query(200, ge=1, le=1000)) -> RegionPage:
    villages = VillageRepository(session)
    region = await _find(villages, code)
    if region.level == "village":
        children: list[Region] = []
    elif region.level == "township":
        children = load_regions().children(region.code) + await villages.of_township(region.code)
    else:
        children = load_regions().children(region.code)
    children.sort(key=lambda r: r.code)
    after = decode_cursor(cursor)
    if after:
        children = [c for c in children if c.code > str(after)]
    page = children[:limit]
    more = len(children) > limit
    return RegionPage(items=[_public(c) for c in page],
                      next_cursor=encode_cursor(page[-1].code) if more and page else None)


class VillageUploadResult(BaseModel):
    status: str
    added: int
    content_sha256: str


@router.post("/villages", response_model=VillageUploadResult)
async def upload_villages(request: Request, session: UnitOfWorkDep,
                          outbox: OutboxDep, file: UploadFile = File(...),
                          county_code: str | None = Form(None)) -> VillageUploadResult:
    """Villages (村/社区) under townships of the shipped tree; each must lie in the caller's
    region."""
    principal = current_principal(request)
    content = await read_upload(file)
    if county_code is not None and load_regions().get(county_code) is None:
        raise Invalid(f"no county {county_code}", field="county_code", code="unknown_region",
                      params={"code": county_code})
    if county_code is not None:
        require_region(principal, county_code)
    tree = await tree_with_villages(VillageRepository(session))
    parsed = parse_village_upload(content, tree, filename=file.filename,
                                  county_code=county_code)
    # every village the file names lies in the caller's region, those already held too
    # (else "unchanged" would tell an outsider which villages exist elsewhere)
    for e in parsed.errors:
        if e.code == "already_exists":
            require_region(principal, str(e.value))
    if parsed.errors:
        if all(e.code == "already_exists" for e in parsed.errors):
            return VillageUploadResult(status="unchanged", added=0,
                                       content_sha256=parsed.content_sha256)
        raise await refuse_upload(request, "villages", file.filename,
                                  parsed.content_sha256, parsed.errors)
    for v in parsed.villages:
        require_region(principal, v.region.code)
    await VillageRepository(session).add(
        [(v.region, v.urban_rural) for v in parsed.villages], parsed.content_sha256)
    # other services show villages by name (reporting's lists and dashboard)
    await outbox.add_many(session, [
        events.VillageAdded(code=v.region.code, township_code=v.region.parent_code,
                            county_code=v.region.code[:6], name=v.region.name)
        for v in parsed.villages])
    return VillageUploadResult(status="applied", added=len(parsed.villages),
                               content_sha256=parsed.content_sha256)
