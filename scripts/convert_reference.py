"""One-off: convert ../shared/reference/pilot_indicators.yaml into the CONTRACT seed layout.

Kept for provenance (how kb/departments/ and kb/indicators/common.yaml were made). The county's
other departments are written as records without indicators so the library lists the whole county.
Run: .venv/bin/python scripts/convert_reference.py ../shared/reference/pilot_indicators.yaml
"""
from __future__ import annotations

import sys
from pathlib import Path

import yaml

from kb import SEED_DIR
from kb.yamlio import dump_yaml

SEED_YEAR = 2025

# The rest of the county (襄垣县): 主管部门 with 3-digit codes, 所属单位 with their parent's code
# as prefix, and the towns. 8 pilots + these = 77 budget departments, the report's count.
OTHER_DEPARTMENTS: list[tuple[str, str, str | None]] = [
    ("109", "中共襄垣县委办公室", None),
    ("110", "县人大常委会办公室", None),
    ("111", "县人民政府办公室", None),
    ("112", "县政协办公室", None),
    ("113", "县纪委监委", None),
    ("114", "中共襄垣县委组织部", None),
    ("115", "中共襄垣县委宣传部", None),
    ("116", "中共襄垣县委统战部", None),
    ("117", "中共襄垣县委政法委员会", None),
    ("118", "县发展和改革局", None),
    ("119", "县工业和信息化局", None),
    ("120", "县公安局", None),
    ("121", "县司法局", None),
    ("122", "县财政局", None),
    ("123", "县自然资源局", None),
    ("124", "长治市生态环境局襄垣分局", None),
    ("125", "县水利局", None),
    ("126", "县商务局", None),
    ("127", "县文化和旅游局", None),
    ("128", "县退役军人事务局", None),
    ("129", "县应急管理局", None),
    ("130", "县审计局", None),
    ("131", "县市场监督管理局", None),
    ("132", "县统计局", None),
    ("133", "县医疗保障局", None),
    ("134", "县林业局", None),
    ("135", "县能源局", None),
    ("136", "县行政审批服务管理局", None),
    ("137", "县信访局", None),
    ("138", "县科学技术局", None),
    ("139", "县体育事业发展中心", None),
    ("140", "县融媒体中心", None),
    ("141", "县档案馆", None),
    ("142", "县供销合作社联合社", None),
    ("143", "共青团襄垣县委", None),
    ("144", "县妇女联合会", None),
    ("145", "县总工会", None),
    ("146", "县残疾人联合会", None),
    ("147", "县人民法院", None),
    ("148", "县人民检察院", None),
    ("149", "县消防救援大队", None),
    ("150", "县城市管理局", None),
    ("151", "县气象局", None),
    ("152", "县农业机械发展中心", None),
    ("153", "县经济技术开发区管理委员会", None),
    ("154", "中共襄垣县委机构编制委员会办公室", None),
    ("155", "县乡村振兴服务中心", None),
    ("101001", "襄垣县第一中学校", "101"),
    ("101002", "襄垣县职业高级中学校", "101"),
    ("101003", "县教育发展服务中心", "101"),
    ("102001", "县人民医院", "102"),
    ("102002", "县中医医院", "102"),
    ("102003", "县疾病预防控制中心", "102"),
    ("102004", "县妇幼保健计划生育服务中心", "102"),
    ("104001", "县社会福利院", "104"),
    ("105001", "县农业技术推广中心", "105"),
    ("105002", "县动物疫病预防控制中心", "105"),
    ("106001", "县公路管理段", "106"),
    ("107001", "县住房保障和城乡建设服务中心", "107"),
    ("108001", "县公共就业人才服务中心", "108"),
    ("201", "古韩镇人民政府", None),
    ("202", "王桥镇人民政府", None),
    ("203", "侯堡镇人民政府", None),
    ("204", "夏店镇人民政府", None),
    ("205", "虒亭镇人民政府", None),
    ("206", "西营镇人民政府", None),
    ("207", "王村镇人民政府", None),
    ("208", "下良镇人民政府", None),
    ("209", "善福镇人民政府", None),
]

UNIT_TIDY = {"日": "天"}


def convert_indicator(item: dict) -> dict:
    unit = UNIT_TIDY.get(item["unit"], item["unit"])
    out = {
        "code": item["id"],
        "name": item["name"],
        "level1": item["level1"],
        "level2": item["level2"],
        "nature": item["nature"],
        "operator": item["operator"],
        "target": str(item["target"]),
        "unit": unit,
        "definition": item["definition"],
        "formula": item["formula"],
        "basis": [
            {key: basis[key] for key in ("kind", "title", "doc_no") if basis.get(key)} for basis in item["basis"]
        ],
        "data_source": item["data_source"],
        "projects": [item["project"]] if item.get("project") else [],
        "keywords": [],
    }
    if item.get("evidence") and item["evidence"] != "domain knowledge":
        out["evidence"] = item["evidence"]
    return out


def main(reference: Path) -> None:
    data = yaml.safe_load(reference.read_text(encoding="utf-8"))
    departments_dir = SEED_DIR / "departments"
    departments_dir.mkdir(exist_ok=True)
    for entry in data:
        indicators = [convert_indicator(item) for item in entry["indicators"]]
        if entry["code"] == "000":
            (SEED_DIR / "indicators" / "common.yaml").write_text(
                "# 共性指标：各部门均可选用，由财政部门统一制定和维护。\n" + dump_yaml({"indicators": indicators}),
                encoding="utf-8",
            )
            continue
        document = {
            "department": {
                "code": entry["code"], "name": entry["name"], "parent": None, "pilot": True,
                "functions": entry["functions"],
            },
            "indicator_set": {"year": SEED_YEAR, "version": 1, "status": "certified", "indicators": indicators},
        }
        (departments_dir / f"{entry['code']}.yaml").write_text(dump_yaml(document), encoding="utf-8")
    for code, name, parent in OTHER_DEPARTMENTS:
        document = {"department": {"code": code, "name": name, "parent": parent, "pilot": False, "functions": []}}
        (departments_dir / f"{code}.yaml").write_text(dump_yaml(document), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
