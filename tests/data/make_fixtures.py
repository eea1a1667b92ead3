"""Generate the synthetic loader fixtures in tests/data (run: .venv/bin/python tests/data/make_fixtures.py).

Each fixture reproduces, small and shippable, a defect seen in a real municipal file that may not
be redistributed (see tests/data/LOADER_FIXTURES.md): scanned pages without text, a real password, AES with
an empty user password, broken font maps (mojibake), truncated files, Shift_JIS/EUC-JP text.

PDFs with text are written by hand with pypdf's object model: a Type0 font with Identity-H
encoding and a ToUnicode CMap, which is what pypdf's text extraction reads. No font program is
embedded (viewers substitute a font; extraction does not need one). A "broken font map" is the
same PDF with a ToUnicode CMap that points the glyphs at unrelated code points, exactly the
failure of the otoineppu newsletters.
"""

from __future__ import annotations

import datetime as dt
import json
import zlib
from pathlib import Path

from pypdf import PdfWriter
from pypdf.generic import (
    ArrayObject,
    DecodedStreamObject,
    DictionaryObject,
    FloatObject,
    NameObject,
    NumberObject,
    StreamObject,
    TextStringObject,
)

HERE = Path(__file__).resolve().parent

PAGE_1 = [
    "第1章 総則",
    "(目的)",
    "第1条 この計画は、防災に関し必要な事項を定めることにより、住民の生命、身体",
    "及び財産を災害から保護することを目的とする。",
]
PAGE_3 = [
    "第2章 避難",
    "1 避難所の開設",
    "村長は、災害が発生し、又は発生するおそれがある場合には、避難所を開設する。",
]
NEWSLETTER = [
    "広報やくば 4月号",
    "新年度の窓口時間のお知らせ",
    "4月1日から、役場の窓口は午前8時30分から午後5時15分までとなります。",
    "ご理解とご協力をお願いいたします。",
]
# What a broken ToUnicode map makes of each CID: characters from unrelated scripts, as in
# 「͓ͱ͍Ͷͬ΀ΉΒͷ」 of the real newsletter.
_GARBAGE_BASE = 0x0370


def _cmap(mapping: dict[int, str]) -> bytes:
    lines = [
        "/CIDInit /ProcSet findresource begin",
        "12 dict begin",
        "begincmap",
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
        "/CMapName /Yakuba-UCS def",
        "/CMapType 2 def",
        "1 begincodespacerange",
        "<0000> <FFFF>",
        "endcodespacerange",
    ]
    items = sorted(mapping.items())
    for start in range(0, len(items), 100):
        chunk = items[start : start + 100]
        lines.append(f"{len(chunk)} beginbfchar")
        for cid, text in chunk:
            lines.append(f"<{cid:04X}> <{text.encode('utf-16-be').hex().upper()}>")
        lines.append("endbfchar")
    lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
    return "\n".join(lines).encode("ascii")


class _Font:
    """Assigns CIDs to characters and builds the Type0 font dictionary."""

    def __init__(self) -> None:
        self.cids: dict[str, int] = {}

    def encode(self, text: str) -> str:
        out = []
        for ch in text:
            cid = self.cids.setdefault(ch, len(self.cids) + 1)
            out.append(f"{cid:04X}")
        return "<" + "".join(out) + ">"

    def build(self, writer: PdfWriter, *, garbled: bool) -> DictionaryObject:
        mapping = {
            cid: (chr(_GARBAGE_BASE + (cid * 7) % 0x2A0) if garbled and not ch.isspace() else ch)
            for ch, cid in self.cids.items()
        }
        to_unicode = StreamObject()
        to_unicode.set_data(_cmap(mapping))
        descriptor = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/FontDescriptor"),
                NameObject("/FontName"): NameObject("/YakubaGothic"),
                NameObject("/Flags"): NumberObject(4),
                NameObject("/FontBBox"): ArrayObject(
                    [NumberObject(0), NumberObject(-120), NumberObject(1000), NumberObject(880)]
                ),
                NameObject("/ItalicAngle"): NumberObject(0),
                NameObject("/Ascent"): NumberObject(880),
                NameObject("/Descent"): NumberObject(-120),
                NameObject("/CapHeight"): NumberObject(700),
                NameObject("/StemV"): NumberObject(80),
            }
        )
        cid_font = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/CIDFontType2"),
                NameObject("/BaseFont"): NameObject("/YakubaGothic"),
                NameObject("/CIDSystemInfo"): DictionaryObject(
                    {
                        NameObject("/Registry"): TextStringObject("Adobe"),
                        NameObject("/Ordering"): TextStringObject("Identity"),
                        NameObject("/Supplement"): NumberObject(0),
                    }
                ),
                NameObject("/FontDescriptor"): writer._add_object(descriptor),
                NameObject("/DW"): NumberObject(1000),
                NameObject("/CIDToGIDMap"): NameObject("/Identity"),
            }
        )
        return DictionaryObject(
            {
                NameObject("/Type"): NameObject("/Font"),
                NameObject("/Subtype"): NameObject("/Type0"),
                NameObject("/BaseFont"): NameObject("/YakubaGothic"),
                NameObject("/Encoding"): NameObject("/Identity-H"),
                NameObject("/DescendantFonts"): ArrayObject([writer._add_object(cid_font)]),
                NameObject("/ToUnicode"): writer._add_object(to_unicode),
            }
        )


def _image(writer: PdfWriter) -> DictionaryObject:
    """A small grey image, as a scanner would put on a page (no text layer)."""
    size = 16
    pixels = bytes((x * 16) % 256 for x in range(size * size))
    image = StreamObject()
    image._data = zlib.compress(pixels)
    image.update(
        {
            NameObject("/Type"): NameObject("/XObject"),
            NameObject("/Subtype"): NameObject("/Image"),
            NameObject("/Width"): NumberObject(size),
            NameObject("/Height"): NumberObject(size),
            NameObject("/ColorSpace"): NameObject("/DeviceGray"),
            NameObject("/BitsPerComponent"): NumberObject(8),
            NameObject("/Filter"): NameObject("/FlateDecode"),
        }
    )
    return writer._add_object(image)


def build_pdf(
    pages: list[list[str] | str | None],
    *,
    garbled_pages: frozenset[int] = frozenset(),
    garbled_lines: dict[int, set[int]] | None = None,
    title: str | None = None,
) -> PdfWriter:
    """pages: a list of text lines, "image" (a scanned page) or None (a blank page).

    garbled_pages: 1-based pages whose text uses the broken font map; garbled_lines: {page: {line
    indexes}} that use it (a newsletter where only the headline font is broken).
    """
    writer = PdfWriter()
    good, bad = _Font(), _Font()
    contents: list[tuple[int, list[str] | str | None, list[tuple[_Font, str]]]] = []
    for number, page in enumerate(pages, start=1):
        encoded: list[tuple[_Font, str]] = []
        if isinstance(page, list):
            for index, line in enumerate(page):
                broken = number in garbled_pages or index in (garbled_lines or {}).get(number, set())
                font = bad if broken else good
                encoded.append((font, font.encode(line)))
        contents.append((number, page, encoded))
    fonts = {
        "/F1": writer._add_object(good.build(writer, garbled=False)),
        "/F2": writer._add_object(bad.build(writer, garbled=True)),
    }
    for _, page, encoded in contents:
        pdf_page = writer.add_blank_page(width=595, height=842)
        resources = DictionaryObject()
        ops: list[str] = []
        if isinstance(page, list):
            resources[NameObject("/Font")] = DictionaryObject({NameObject(k): v for k, v in fonts.items()})
            ops.append("BT 16 TL 40 800 Td")
            for font, hexed in encoded:
                ops.append(f"/{'F1' if font is good else 'F2'} 10.5 Tf {hexed} Tj T*")
            ops.append("ET")
        elif page == "image":
            resources[NameObject("/XObject")] = DictionaryObject({NameObject("/Im1"): _image(writer)})
            ops.append("q 500 0 0 700 40 70 cm /Im1 Do Q")
        stream = DecodedStreamObject()
        stream.set_data("\n".join(ops).encode("ascii"))
        pdf_page[NameObject("/Contents")] = writer._add_object(stream)
        pdf_page[NameObject("/Resources")] = resources
        pdf_page[NameObject("/MediaBox")] = ArrayObject(
            [FloatObject(0), FloatObject(0), FloatObject(595), FloatObject(842)]
        )
    if title:
        writer.add_metadata({"/Title": title})
    return writer


def _save(writer: PdfWriter, name: str) -> Path:
    path = HERE / name
    with path.open("wb") as handle:
        writer.write(handle)
    return path


def make_pdfs() -> None:
    _save(
        build_pdf([PAGE_1, None, "image", PAGE_3], title="地域防災計画（テスト）"), "plan-missing-pages.pdf"
    )
    _save(build_pdf(["image", "image"]), "scanned-only.pdf")

    writer = build_pdf([PAGE_1, PAGE_3], title="地域防災計画（テスト）")
    writer.encrypt(user_password="", owner_password="owner-secret", algorithm="AES-256")
    _save(writer, "aes-empty-password.pdf")

    writer = build_pdf([PAGE_1])
    writer.encrypt(user_password="yakuba-secret", owner_password="owner-secret", algorithm="AES-128")
    _save(writer, "password-protected.pdf")

    # Three of four pages garbled: the document must be refused, not indexed.
    _save(build_pdf([NEWSLETTER] * 4, garbled_pages=frozenset({1, 2, 3})), "mojibake-newsletter.pdf")
    # One page garbled, one page with a garbled headline line, two good pages: loaded with warnings.
    _save(
        build_pdf(
            [NEWSLETTER, NEWSLETTER, PAGE_1, NEWSLETTER], garbled_pages=frozenset({2}), garbled_lines={4: {0}}
        ),
        "partly-garbled-newsletter.pdf",
    )

    complete = (HERE / "plan-missing-pages.pdf").read_bytes()
    (HERE / "truncated.pdf").write_bytes(complete[: len(complete) // 3])
    (HERE / "not-a-pdf.pdf").write_bytes("これはPDFではありません。\n".encode())
    (HERE / "zero-bytes.pdf").write_bytes(b"")


PLAIN_TEXT = """南国市 手話言語条例の概要

手話は、音声を使わず、手指や体の動き、表情を使って、視覚的に表現する言語です。
市は、手話への理解の促進及び手話の普及に関する施策を推進します。
"""

PAGED_MARKDOWN = """---
title: 第6次総合計画（抜粋）
doc_type: 総合計画
---
# 第6次総合計画（抜粋）

<!-- page: 12 -->
## 基本施策1 子育て支援
子育て世帯への支援を充実します。

<!-- page: 13 -->
## 基本施策2 防災
自主防災組織の結成を支援します。
"""


def make_texts() -> None:
    (HERE / "notice-cp932.txt").write_bytes(PLAIN_TEXT.encode("cp932"))
    (HERE / "notice-eucjp.txt").write_bytes(PLAIN_TEXT.encode("euc_jp"))
    (HERE / "plan-paged-bom.md").write_bytes(PAGED_MARKDOWN.encode("utf-8-sig"))
    (HERE / "binary.txt").write_bytes(bytes(range(256)) * 4)

    html = """<!DOCTYPE html>
<html lang="ja"><head><meta charset="Shift_JIS"><title>ごみの出し方｜やくば村</title>
<style>body { color: red; }</style><script>var menu = "メニュー";</script></head>
<body>
<header><a href="/">やくば村公式サイト</a></header>
<nav><ul><li>くらし</li><li>観光</li></ul></nav>
<main>
<h1>ごみの出し方</h1>
<p>燃やせるごみは、毎週月曜日と木曜日の朝8時30分までに
指定の集積所に出してください。</p>
<h2>収集日一覧</h2>
<table><tr><th>地区</th><th>燃やせるごみ</th><th>資源ごみ</th></tr>
<tr><td>北地区</td><td>月・木</td><td>第2水曜日</td></tr></table>
<ul><li>粗大ごみは予約制です。</li></ul>
</main>
<footer>Copyright やくば村</footer>
</body></html>
"""
    (HERE / "gomi-sjis.html").write_bytes(html.encode("cp932"))

    records = [
        {
            "id": "plan#1",
            "title": "総合計画",
            "text": "基本目標1 安心して暮らせるまち",
            "metadata": {"doc_type": "comprehensive_plan", "year": 2021},
        },
        {
            "id": "minutes#1",
            "title": "定例会 会議録",
            "text": "○議長(山田太郎) ただいまから本日の会議を開きます。",
            "metadata": {"doc_type": "council_minutes", "speaker": "山田太郎"},
        },
        {
            "id": "wiki#1",
            "title": "梅雨",
            "text": "梅雨は、5月から7月にかけて来る曇りや雨の多い期間のこと。",
            "metadata": {"doc_type": "wikipedia"},
        },
    ]
    lines = [json.dumps(r, ensure_ascii=False) for r in records]
    (HERE / "corpus.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (HERE / "corpus-bad-line.jsonl").write_text(
        lines[0] + "\n" + lines[1] + '\n{"id": "broken", "text": \n', encoding="utf-8"
    )


def make_docx() -> None:
    from docx import Document

    document = Document()
    document.core_properties.title = "窓口業務マニュアル"
    document.core_properties.created = dt.datetime(2025, 4, 1)
    document.add_heading("窓口業務マニュアル", level=1)
    document.add_paragraph("このマニュアルは、住民課の窓口業務の手順を定めるものです。")
    document.add_heading("1 住民票の写しの交付", level=2)
    document.add_paragraph("本人確認書類を確認してから交付します。")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text = "手数料"
    table.cell(0, 1).text = "1通300円"
    table.cell(1, 0).text = "受付時間"
    table.cell(1, 1).text = "8時30分から17時15分"
    document.save(HERE / "madoguchi-manual.docx")
    # A legacy Word (.doc) file renamed to .docx: an OLE compound file, not a zip.
    (HERE / "legacy-word.docx").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 1024)


if __name__ == "__main__":
    make_pdfs()
    make_texts()
    make_docx()
    print("fixtures written to", HERE)
