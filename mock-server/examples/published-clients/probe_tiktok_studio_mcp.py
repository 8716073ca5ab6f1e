"""tiktok-studio-mcp (PyPI) against the mock: OAuth with its own loopback listener,
user info, video list, a direct FILE_UPLOAD post, its status.

The package hard-codes https://open.tiktokapis.com and https://www.tiktok.com (module
constants, no setting), so they are replaced here, in this process only."""
import contextlib, io, json, os, sys, tempfile, threading, time, urllib.request

from common import MOCK, approve, demo_app, step, to_mock, write_video

os.environ["TIKTOK_MCP_MODE"] = "publish"
os.environ["TIKTOK_MCP_SCOPES"] = "user.info.basic,video.list,video.upload,video.publish"

import tiktok_mcp.auth as auth
import tiktok_mcp.client as client
from tiktok_mcp.secrets import FileStore
from tiktok_mcp.server import build_app

# Monkeypatch: the hard-coded hosts.
client.API = MOCK
client.TOKEN_URL = MOCK + "/v2/oauth/token/"
auth.AUTHORIZE_URL = MOCK + "/v2/auth/authorize/"
auth.TOKEN_URL = MOCK + "/v2/oauth/token/"

app = demo_app()
work = tempfile.mkdtemp()
store = FileStore(os.path.join(work, "credentials.json"))

step("authorize + exchange code (run_auth_flow, its redirect_uri is fixed: " + auth.REDIRECT_URI + ")")
if auth.REDIRECT_URI not in app["redirect_uris"]:
    # The demo app does not list the client's fixed redirect URI: register it, as a
    # developer would in TikTok's portal.
    req = urllib.request.Request(MOCK + "/_mock/apps", method="POST", data=json.dumps(
        {"client_key": app["client_key"], "redirect_uris": app["redirect_uris"] + [auth.REDIRECT_URI]}).encode(),
        headers={"content-type": "application/json"})
    urllib.request.urlopen(req).read()
    print("registered", auth.REDIRECT_URI, "on the demo app (control API)")
out = io.StringIO()
result = {}
def run():
    with contextlib.redirect_stdout(out):
        result["r"] = auth.run_auth_flow(app["client_key"], app["client_secret"], store)
t = threading.Thread(target=run, daemon=True)
t.start()
url = None
for _ in range(100):
    for line in out.getvalue().splitlines():
        if line.startswith(MOCK):
            url = line.strip()
    if url:
        break
    time.sleep(0.05)
assert url, "run_auth_flow printed no URL: " + out.getvalue()
print("authorize URL:", url, file=sys.__stdout__)
location = approve(url)
print("redirect:", location[:120], file=sys.__stdout__)
urllib.request.urlopen(location).read()        # the browser lands on the client's listener
t.join(30)
print("run_auth_flow:", result.get("r"), "|", out.getvalue().strip().splitlines()[-1])
assert store.get("refresh_token"), "no refresh token stored"

tk = client.TikTok(store=store)
mcp = build_app(tk)
def tool(name, **kw):
    return mcp._tool_manager.get_tool(name).fn(**kw)

step("user info (health_check, via a refresh of the stored refresh token)")
h = tool("health_check")
print(h)
assert h["auth"] == "ok" and h["open_id"], h

step("list videos")
v = tool("list_videos", limit=5)
print(json.dumps(v)[:300])
assert v["error"]["code"] == "ok" and len(v["data"]["videos"]) == 5, v

step("post a video (direct, FILE_UPLOAD)")
path = write_video(os.path.join(work, "clip.mp4"))
p = tool("post_video", file_path=path, caption="from tiktok-studio-mcp", privacy_level="SELF_ONLY")
print(p)
assert "publish_id" in p, p

step("status fetch until done")
for _ in range(40):
    s = tool("post_status", publish_id=p["publish_id"])
    status = s["data"]["status"]
    if status not in ("PROCESSING_UPLOAD", "PROCESSING_DOWNLOAD"):
        break
    time.sleep(0.5)
print(s)
assert status == "PUBLISH_COMPLETE", s
print("OK tiktok-studio-mcp")
