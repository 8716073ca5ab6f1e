"""One call against the mock, as a Python app's test would make it (standard library only)."""

import json
import urllib.request


def test_user_info_answers_the_demo_creator(tiktok_mock):
    token = tiktok_mock["tokens"]["full"]["access_token"]
    request = urllib.request.Request(
        tiktok_mock["url"] + "/v2/user/info/?fields=open_id,display_name",
        headers={"Authorization": "Bearer " + token},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        body = json.load(response)
    assert body["error"]["code"] == "ok"
    assert body["data"]["user"]["display_name"] == "Demo Creator"
    assert body["data"]["user"]["open_id"] == tiktok_mock["tokens"]["full"]["open_id"]
