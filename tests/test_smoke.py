def test_search_finds_a_new_listing(client, factory):
    listing = factory.listing()
    response = client.get("/api/v1/search?zip=02115&radius=10")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert [r["id"] for r in body["results"]] == [listing.id]
    assert body["results"][0]["distance_mi"] == 0.0
