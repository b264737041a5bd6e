"""A report as a table, written as CSV or XLSX.

Caller numbers and queue/agent names are untrusted: in CSV a cell that starts with = + - @, a tab
or a carriage return is prefixed with an apostrophe so a spreadsheet shows it as text instead of
running it as a formula. XLSX is written by XlsxWriter with strings as strings (never formulas).
"""
from __future__ import annotations

import csv
import io

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def report_table(doc: dict) -> tuple[list[str], list[list[object]]]:
    """Header and rows: one row per group plus the total, one column per KPI (raw values)."""
    defs = doc["kpi_definitions"]
    header = [doc["group_by"]] + [f"{k['label']} ({k['unit']})" for k in defs]
    rows: list[list[object]] = [[r["label"]] + [r["kpis"][k["name"]] for k in defs] for r in doc["rows"]]
    rows.append(["total"] + [doc["total"][k["name"]] for k in defs])
    return header, rows


def abandoned_table(doc: dict) -> tuple[list[str], list[list[object]]]:
    header = ["time", "queue", "number", "wait_s", "reached_since"]
    return header, [[a["time"], a["queue"], a["number"], a["wait_s"], a["reached_since"]]
                    for a in doc.get("abandoned_calls", [])]


def menu_tables(doc: dict) -> list[tuple[list[str], list[list[object]]]]:
    """The auto-attendant figures (with formulas), the calls per option and the work-order figures,
    when the report has them (reports from the Linebox store)."""
    menu = doc.get("menu")
    if not menu:
        return []
    figures = (["menu figure", "value", "formula"],
               [[k["label"], menu["total"][k["name"]], k["formula"]] for k in menu["kpi_definitions"]])
    options = (["menu", "key", "destination", "calls"],
               [[o["menu"], o["key"], o["destination"], o["calls"]] for o in menu["options"]])
    tables = [figures, options]
    wo = doc.get("workorders")
    if wo:
        tables.append((["work order figure", "value", "formula"],
                       [[f["label"], f["value"], f["formula"]] for f in wo["figures"]]))
    tables += campaign_tables(doc)
    return tables


def campaign_tables(doc: dict) -> list[tuple[list[str], list[list[object]]]]:
    """The outbound-campaign figures (with formulas), per campaign and per agent."""
    cmp = doc.get("campaigns")
    if not cmp:
        return []
    cols = ["attempts", "contacts", "machines", "messages", "hung_up", "unknown", "contact_rate", "talk_s"]
    return [(["campaign figure", "value", "formula"], [[f["label"], f["value"], f["formula"]] for f in cmp["figures"]]),
            (["campaign", *cols], [[r["campaign"], *(r[c] for c in cols)] for r in cmp["by_campaign"]]),
            (["campaign agent", *cols], [[r["agent"], *(r[c] for c in cols)] for r in cmp["by_agent"]])]


def to_csv(doc: dict) -> str:
    out = io.StringIO()
    w = csv.writer(out)
    header, rows = report_table(doc)
    w.writerow([neutralise(h) for h in header])
    for r in rows:
        w.writerow(["" if v is None else neutralise(v) for v in r])
    w.writerow([])
    w.writerow(["KPI", "formula"])
    for k in doc["kpi_definitions"]:
        w.writerow([neutralise(k["label"]), neutralise(k["formula"])])
    if doc.get("abandoned_calls"):
        w.writerow([])
        header, rows = abandoned_table(doc)
        w.writerow(header)
        for r in rows:
            w.writerow([neutralise(v) for v in r])
    for header, rows in menu_tables(doc):
        w.writerow([])
        w.writerow(header)
        for r in rows:
            w.writerow(["" if v is None else neutralise(v) for v in r])
    return out.getvalue()


def to_xlsx(doc: dict) -> bytes:
    import xlsxwriter
    buf = io.BytesIO()
    book = xlsxwriter.Workbook(buf, {"in_memory": True, "strings_to_formulas": False,
                                     "strings_to_urls": False, "strings_to_numbers": False})
    sheet = book.add_worksheet("Report")
    bold = book.add_format({"bold": True})
    header, rows = report_table(doc)
    sheet.write_row(0, 0, header, bold)
    for i, r in enumerate(rows, 1):
        for j, v in enumerate(r):
            if v is None:
                continue
            if isinstance(v, str):
                sheet.write_string(i, j, v)
            else:
                sheet.write_number(i, j, float(v))
    f = book.add_worksheet("Formulas")
    f.write_row(0, 0, ["KPI", "formula"], bold)
    for i, k in enumerate(doc["kpi_definitions"], 1):
        f.write_string(i, 0, k["label"])
        f.write_string(i, 1, k["formula"])
    if doc.get("abandoned_calls"):
        a = book.add_worksheet("Abandoned")
        header, rows = abandoned_table(doc)
        a.write_row(0, 0, header, bold)
        for i, r in enumerate(rows, 1):
            for j, v in enumerate(r):
                if isinstance(v, str):
                    a.write_string(i, j, v)
                elif isinstance(v, bool):
                    a.write_boolean(i, j, v)
                else:
                    a.write_number(i, j, float(v))
    tables = menu_tables(doc)
    if tables:
        m = book.add_worksheet("Menus")
        row = 0
        for header, rows in tables:
            m.write_row(row, 0, header, bold)
            for r in rows:
                row += 1
                for j, v in enumerate(r):
                    if isinstance(v, str):
                        m.write_string(row, j, v)
                    elif v is not None:
                        m.write_number(row, j, float(v))
            row += 2
    book.close()
    return buf.getvalue()
