"""The pager asks for the next page while the caller works on the current one (the source prepares
it meanwhile), and still hands pages, and a page's error, over in order."""

from __future__ import annotations

import time

import pytest

from directory.harvest.client import FhirPager, PageError
from tests.harvest.conftest import FAST
from tests.harvest.server import Answer, FaultyServer, bundle


def test_the_next_page_is_asked_for_while_the_caller_works_on_this_one():
    with FaultyServer() as faulty:
        faulty.script["PractitionerRole"] = [bundle([], next_url=f"{faulty.base}/page-2")]
        faulty.script["page-2"] = [bundle([], next_url=f"{faulty.base}/page-3")]
        faulty.script["page-3"] = [Answer("<html>down</html>", content_type="text/html")]
        pager = FhirPager(faulty.base, FAST)
        pages = pager.pages(f"{faulty.base}/PractitionerRole")
        first = next(pages)
        deadline = time.monotonic() + 5
        while faulty.hits.get("page-2") != 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert first.url.endswith("/PractitionerRole") and faulty.hits.get("page-2") == 1
        assert "page-3" not in faulty.hits  # one page ahead, no more
        assert next(pages).url.endswith("/page-2")
        with pytest.raises(PageError, match="an HTML page"):
            next(pages)
        pager.close()
