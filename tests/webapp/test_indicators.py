"""指标详情, 比较, 共性指标, 我的 (favourites, recently viewed), 复制到我的指标集."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from kb.models import Indicator


@pytest.fixture
def as_expert(world, client, make_user, login):
    make_user("expert", username="zhuanjia")
    login(client, "zhuanjia")
    return client


def test_detail_shows_every_field_basis_and_history(as_expert):
    page = as_expert.get("/indicators/WJ-006").get_data(as_text=True)
    assert "高血压患者基层规范管理服务率" in page
    for label in ("指标值", "一级指标", "二级指标", "指标性质", "计量单位", "指标解释", "计算公式", "数据来源", "适用项目", "关键词"):
        assert f"<dt>{label}</dt>" in page
    assert "国家基本公共卫生服务项目" in page  # a basis document
    assert "修改记录" in page and "新增" in page  # the seed load is the first history entry
    assert "相似指标" in page


def test_experts_do_not_see_edit_or_copy_buttons(as_expert):
    page = as_expert.get("/indicators/WJ-006").get_data(as_text=True)
    assert "data-edit" not in page and "data-copy" not in page


def test_unknown_indicator_is_a_chinese_404(as_expert):
    response = as_expert.get("/indicators/NO-SUCH")
    assert response.status_code == 404
    assert "指标 NO-SUCH 不存在" in response.get_data(as_text=True)


def test_compare_puts_indicators_side_by_side_and_marks_differences(as_expert):
    page = as_expert.get("/compare?codes=WJ-006&codes=WJ-001").get_data(as_text=True)
    assert "高血压患者基层规范管理服务率" in page and "适龄儿童国家免疫规划疫苗接种率" in page
    assert 'class="differs"' in page
    lonely = as_expert.get("/compare?codes=WJ-006&codes=ZZ-404").get_data(as_text=True)
    assert "请至少选择两项指标" in lonely and "找不到这些编码：ZZ-404" in lonely


def test_common_page_lists_the_common_set(as_expert):
    page = as_expert.get("/common").get_data(as_text=True)
    assert "共性指标" in page and "预算执行率" in page
    assert "新增共性指标" not in page  # experts do not edit


def test_favourites_and_recently_viewed(as_expert):
    as_expert.get("/indicators/WJ-006")
    as_expert.get("/indicators/WJ-001")
    response = as_expert.post("/me/favourites/WJ-006")
    assert response.status_code == 302
    page = as_expert.get("/me").get_data(as_text=True)
    favourites, recent = page.split("最近浏览", 1)
    assert "高血压患者基层规范管理服务率" in favourites and "适龄儿童" not in favourites
    assert recent.index("适龄儿童") < recent.index("高血压")  # most recent first
    as_expert.post("/me/favourites/WJ-006")  # toggles back
    assert "还没有收藏" in as_expert.get("/me").get_data(as_text=True)


def test_department_copies_an_indicator_into_its_own_draft_set(world, client, make_user, login):
    make_user("department", "109", username="xiangzhen")  # a county department without a certified set
    login(client, "xiangzhen")
    page = client.get("/indicators/WJ-006").get_data(as_text=True)
    assert "复制到我的指标集" in page
    response = client.post("/indicators/WJ-006/copy")
    assert response.status_code == 302
    new_code = re.search(r"/indicators/([^/]+)/edit", response.headers["Location"]).group(1)
    with world.extensions["kb"].sessions() as session:
        copy = session.scalar(select(Indicator).where(Indicator.code == new_code))
        assert copy.department.code == "109" and copy.name == "高血压患者基层规范管理服务率"
        assert "复制自 WJ-006" in copy.remarks


def test_department_with_a_certified_set_cannot_copy_into_it(world, client, make_user, login):
    make_user("department", "101", username="jiaoyu")
    login(client, "jiaoyu")
    assert "复制到我的指标集" not in client.get("/indicators/WJ-006").get_data(as_text=True)
    response = client.post("/indicators/WJ-006/copy")
    assert response.status_code == 403
    assert "草稿" in response.get_data(as_text=True)
