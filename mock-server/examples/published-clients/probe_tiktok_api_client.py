"""tiktok-api-client (PyPI) against the mock: OAuth (PKCE), creator info, a direct post
by FILE_UPLOAD and by PULL_FROM_URL, status fetch. It has no user info or video list.

The package hard-codes TikTok's hosts: class attributes (replaced on the class) and two
literal URLs inside methods (creator info, status), which only a rewrite of the URL at
the `requests` layer reaches. Both are done here, in this process only."""
import os, sys, tempfile, time

import requests  # the package needs it but does not declare it

from common import MOCK, approve, code_of, demo_app, step, to_mock, write_video
from tiktok_api_client import TikTok

for name in ("AUTH_URL", "TOKEN_URL", "TOKEN_REVOKE_URL", "VIDEO_POST_URL", "PHOTO_POST_URL"):
    setattr(TikTok, name, to_mock(getattr(TikTok, name)))
_post = requests.post
def post(url, *a, **kw):
    return _post(to_mock(url), *a, **kw)
requests.post = post

app = demo_app()
redirect = app["redirect_uris"][0]
tt = TikTok(app["client_key"], app["client_secret"], redirect, state="st4te")

step("authorize")
url = tt.get_authorization_url()
print("authorize URL:", url)
code = code_of(approve(url))
print("code:", code)

step("exchange code")
tok = tt.exchange_code_for_token(code)
print({k: v for k, v in tok.items() if k != "access_token" and k != "refresh_token"})
assert tok.get("access_token", "").startswith("act."), tok

step("creator info")
ci = tt.get_creator_info()
print(ci)
assert ci["error"]["code"] == "ok", ci

step("post a video (direct, FILE_UPLOAD)")
path = write_video(os.path.join(tempfile.mkdtemp(), "clip.mp4"))
from tiktok_api_client.utils import HTTPError
try:
    r = tt.create_video("FILE_UPLOAD", "POST_VIDEO_FILE", "from tiktok-api-client", "SELF_ONLY", video_path=path)
    print(r)
    raise SystemExit("unexpected: the known client bug is gone, update this probe")
except HTTPError as e:
    # Known client bug: after the last PUT (201, empty body, as TikTok documents no
    # body) it calls response.json(). The init and the upload themselves went through.
    print("KNOWN CLIENT BUG:", e)
    assert "Expecting value" in str(e), e

step("post a video (direct, PULL_FROM_URL)")
r = tt.create_video("PULL_FROM_URL", "POST_VIDEO_URL", "pulled", "SELF_ONLY", video_url="https://media.demo.example/clip.mp4")
print(r)
pid_url = r["data"]["publish_id"]

step("status fetch until done")
for pid in (pid_url,):
    for _ in range(40):
        s = tt.check_upload_status(pid)
        if s["data"]["status"] not in ("PROCESSING_UPLOAD", "PROCESSING_DOWNLOAD"):
            break
        time.sleep(0.5)
    print(pid, s)
    assert s["data"]["status"] == "PUBLISH_COMPLETE", s
print("OK tiktok-api-client")
