"""What the plan registry's routes answer, for the OpenAPI document (the routes build plain
dicts and answer them as they are: these models document them, with `extra` allowed so that a
new field is documented by adding it here, never refused)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Draft(_Open):
    """方案草案 / a draft plan."""

    id: str = Field(description="草案编号 / the draft's id (UUID)")
    region_code: str = Field(description="方案所属区划 / the plan's region")
    plan_year: int
    version: str = Field(description="草案中的方案版本 / the plan version the draft declares")
    status: str = Field(description="draft | approved | published")
    author: str = Field(description="上传人 / who uploaded it")
    created_at: str
    approved_by: str | None = Field(description="审核人 / who approved it (null: not yet)")
    approved_at: str | None
    publication: int | None = Field(description="发布编号 / its publication (null: not published)")
    based_on_version: str | None
    warnings: list[Any] = Field(description="警告 / warnings kept with the draft")


class DraftWithDiff(Draft):
    """方案草案及与现行方案的差异 / a draft and its diff against the plan in force."""

    diff: list[dict[str, Any]] = Field(
        description="与现行方案的差异, 逐项用金额说明 / the diff, one change a line, in money")


class DraftDetail(DraftWithDiff):
    """方案草案全文 / a draft with its content."""

    content: dict[str, Any] = Field(description="方案内容 / the plan's content (policy file schema)")
    text: str | None = Field(description="上传的原文 / the text as uploaded")
    compared_with: str | None = Field(description="比较的现行版本 / the version compared with")


class Drafts(_Open):
    drafts: list[Draft]


class Publication(_Open):
    """一次发布 / a publication."""

    publication: int = Field(description="发布编号 / the publication's number")
    region_code: str
    plan_year: int
    version: str
    effective_on: str = Field(description="生效日期 (北京时间) / first day in force (Beijing)")
    correction: bool = Field(description="是否为更正 / a correction of the year's plan")
    republished_from: int | None = Field(description="重新发布的来源 / the publication published again")
    published_by: str
    published_at: str


class PublicationHistory(_Open):
    region_code: str
    plan_year: int
    publications: list[dict[str, Any]] = Field(
        description="每次发布: 版本、起草、审核、发布人和时间、生效日、是否现行 / every "
                    "publication: version, who wrote, approved and published it, in force")


class DraftSimulation(_Open):
    """草案测算 / a draft against the plan in force (nothing stored)."""

    region_code: str
    plan_year: int
    draft_version: str
    current_version: str | None
    draft: dict[str, Any] = Field(description="草案下的人数和金额 / head count and money under the draft")
    current: dict[str, Any] | None = Field(description="现行方案下的 / under the plan in force")
    difference: dict[str, Any] | None = Field(description="差额 / the difference (null: no plan in force)")
    townships: list[dict[str, Any]]
    people_changed: int | None
    people: list[dict[str, Any]] = Field(
        description="个人缴费变化的人员 / people whose own contribution changes")


class PublicationChanges(_Open):
    """更正带来的变化 / what a correction changed."""

    region_code: str
    plan_year: int
    publication: int
    version: str
    previous_version: str | None = Field(description="被更正的版本 / the version it replaced")
    redetermination: dict[str, Any] | None = Field(description="重新认定任务 / the redetermination job")
    owe_more: dict[str, int] = Field(description="多缴: 人数和金额 / owe more: headcount, fen")
    owe_less: dict[str, int] = Field(description="少缴 / owe less: headcount, fen")
    refunds: dict[str, int] = Field(description="应退 / refunds due: headcount, fen")
    budget_lines: dict[str, Any] = Field(
        description="各补助资金的增减 / subsidies added and withdrawn per budget line")
    people_changed: int
    people: list[dict[str, Any]] = Field(
        description="缴费变化的人员 (含应退) / people whose contribution changed, refunds due")
