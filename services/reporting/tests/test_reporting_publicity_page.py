"""#14: the printable publicity page a village posts: its name, 公示期, issuing unit,
supervision phone, date and seal lines and the total, from configuration per region, and the
title and headers printed again on every page (Chromium prints it; Ghostscript reads the
pages). The PDF and a screenshot are kept under .artifacts/publicity/."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from services.reporting.lists.service import publicity_table
from services.reporting.notices import Notice, notice_for
from services.reporting.templating import templates

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[3] / ".artifacts" / "publicity"
NOTICES = {"370481": {"issuer": "滕州市医疗保障局", "phone": "0632-5501234"},
           "370481001000": {"issuer": "北辛街道便民服务中心", "phone": "0632-5509999",
                            "seal": "北辛街道办事处"}}


def test_the_narrowest_configured_region_issues_the_notice() -> None:
    assert notice_for(NOTICES, "370481001001") == Notice("北辛街道便民服务中心", "0632-5509999",
                                                        "北辛街道办事处")
    assert notice_for(NOTICES, "370481002001") == Notice("滕州市医疗保障局", "0632-5501234",
                                                        "滕州市医疗保障局")
    assert notice_for(NOTICES, "140602001001") == Notice()


def _data(rows: int) -> dict[str, object]:
    out = [{"no": i, "name": "张*三", "id_number": f"370481********{i:04d}",
            "village_code": "370481001001", "village_name": "北辛村", "amount_fen": 40000,
            "amount_yuan": "400.00", "paid_on": "2024-11-05", "payer_name": "个人缴费"}
           for i in range(1, rows + 1)]
    return {"plan_year": 2025, "region_name": "滕州市北辛街道北辛村",
            "village_code": "370481001001", "village_name": "北辛村",
            "publicity_from": "2025-01-02", "publicity_until": "2025-01-08", "count": rows,
            "row_count": rows, "total_fen": 40000 * rows,
            "total_yuan": f"{400 * rows}.00", "rows": out}


def _html(rows: int, notice: Notice) -> str:
    data = _data(rows)
    return templates.get_template("publicity.html").render(
        data=data, table=publicity_table(data), notice=notice)


def test_the_page_names_the_village_and_carries_the_notice_lines() -> None:
    html = _html(3, notice_for(NOTICES, "370481001001"))
    assert "滕州市北辛街道北辛村" in html and "370481001001" not in html
    assert "公示期：2025-01-02 至 2025-01-08" in html
    assert "监督电话：0632-5509999" in html
    assert "发布单位：北辛街道便民服务中心（盖章）" in html and "北辛街道办事处" in html
    assert "公示日期：2025 年 1 月 2 日" in html
    assert "合计：3人" in html and "1200.00" in html
    assert "<thead>" in html  # printed again at the top of every page
    blank = _html(1, Notice())
    assert "监督电话：____" in blank and "发布单位：____" in blank


@pytest.mark.skipif(not CHROMIUM.exists() or shutil.which("gs") is None,
                    reason="needs Debian's chromium at /usr/bin/chromium and Ghostscript "
                           "(.ci/run installs them)")
def test_printed_publicity_pages_repeat_the_title_and_headers(tmp_path: Path) -> None:
    rows = 90
    page = tmp_path / "publicity.html"
    page.write_text(_html(rows, notice_for(NOTICES, "370481001001")), encoding="utf-8")
    pdf = tmp_path / "publicity.pdf"
    shot = tmp_path / "publicity.png"
    with tempfile.TemporaryDirectory() as profile:
        base = [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                f"--user-data-dir={profile}", "--no-pdf-header-footer"]
        subprocess.run([*base, f"--print-to-pdf={pdf}", page.as_uri()], check=True,
                       capture_output=True, timeout=120)
        subprocess.run([*base, "--window-size=900,1200", f"--screenshot={shot}",
                        page.as_uri()], check=True, capture_output=True, timeout=120)
    count = int(subprocess.run(
        ["gs", "-q", "-dNODISPLAY", "-dNOSAFER", "-c",
         f"({pdf}) (r) file runpdfbegin pdfpagecount = quit"],
        check=True, capture_output=True, text=True, timeout=60).stdout.split()[-1])
    assert count >= 2
    texts = [subprocess.run(
        ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-sDEVICE=txtwrite", f"-dFirstPage={n}",
         f"-dLastPage={n}", "-o", "-", str(pdf)],
        check=True, capture_output=True, text=True, timeout=60).stdout
        for n in range(1, count + 1)]
    for n, text in enumerate(texts, start=1):
        assert "参保缴费公示表" in text and "身份证号码" in text, n
    assert "监督电话：0632-5509999" in texts[-1] and "合计：90人" in texts[-1]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(pdf, ARTIFACTS / "公示表.pdf")
    shutil.copy(shot, ARTIFACTS / "公示表.png")
