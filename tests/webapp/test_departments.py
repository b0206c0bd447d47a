from kb.services.library import load_library, parse_library
from tests.conftest import SEED_PATHS


def test_department_list_shows_the_county(app, client, actor):
    with app.extensions["kb"].sessions() as session:
        load_library(session, actor, parse_library(session, SEED_PATHS))
        session.commit()
    page = client.get("/").get_data(as_text=True)
    assert "全县预算部门（77 个）" in page
    assert "县教育局" in page and "专家已审定" in page
