"""The "what to expect" page: general information, clearly not medical advice."""

from __future__ import annotations

from tests.web.test_providers import parse

NOTICE = "General information, not medical advice."


def test_what_to_expect_page(client):
    response = client.get("/what-to-expect")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = parse(response)  # well formed, headings in order, unique ids
    html = response.get_data(as_text=True)
    assert html.count(NOTICE) == 2
    main = html.split('<main id="main"', 1)[1]
    assert main.index(NOTICE) < main.index('id="how-long"')  # at the top...
    assert main.rindex(NOTICE) > main.index('id="questions"')  # ...and at the bottom
    for section in ("how-long", "the-visit", "premedication", "side-effects", "alternatives", "insurance",
                    "questions"):
        assert page.ids[section][0] == "h2", section
        assert f'href="#{section}"' in html
    for words in ("two to four hours", "first infusions are usually the slowest", "several days in a row",
                  "IV line", "vital signs", "rate is raised step by step", "acetaminophen", "antihistamine",
                  "hydrated", "headache", "chills", "flu-like", "24–72 hours", "stiff neck", "chest pain",
                  "shortness of breath", "dark or reddish urine", "Home infusion", "SCIG", "prior authorization",
                  "which IVIG products", "hospital outpatient department", 'class="checklist"'):
        assert words in html, words
    assert '<a href="/">Search for an infusion centre or specialist</a>' in main
    assert '<a href="/">Back to search</a>' in main
