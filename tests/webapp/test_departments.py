"""部门 pages: the county list and one department's page grouped like the paper form."""


def test_department_list_shows_the_county(world, client, make_user, login):
    make_user("expert", username="zhuanjia")
    login(client, "zhuanjia")
    page = client.get("/departments").get_data(as_text=True)
    assert "全县预算部门（77 个）" in page
    assert "县教育局" in page and "专家已审定" in page


def test_department_page_groups_the_set_by_levels(world, client, make_user, login):
    make_user("finance", username="caizheng")
    login(client, "caizheng")
    page = client.get("/departments/101").get_data(as_text=True)
    assert "三定方案职能" in page
    assert page.index("产出指标") < page.index("效益指标") < page.index("满意度指标")
    assert "受益学生人数" in page and "应享受学生覆盖率" in page


def test_unknown_department_is_a_chinese_404(world, client, make_user, login):
    make_user("finance", username="caizheng")
    login(client, "caizheng")
    response = client.get("/departments/999")
    assert response.status_code == 404
    assert "部门 999 不存在" in response.get_data(as_text=True)
