"""Helpers shared by the Python probes: the mock's URL, its demo credentials, and a
browser stand-in for the consent page (auto_approve=1, read the redirect)."""
import json, os, sys, urllib.parse, urllib.request

MOCK = sys.argv[1].rstrip("/") if len(sys.argv) > 1 else os.environ["MOCK_URL"].rstrip("/")
TIKTOK_API = "https://open.tiktokapis.com"
TIKTOK_WWW = "https://www.tiktok.com"


def demo_app():
    """The printed demo app (the first app of the mock's fixtures)."""
    with urllib.request.urlopen(MOCK + "/_mock/apps") as r:
        apps = json.loads(r.read())
    apps = apps.get("apps", apps)
    return apps[0]


def to_mock(url: str) -> str:
    """Point a URL that a client built for TikTok at the mock."""
    return url.replace(TIKTOK_API, MOCK).replace(TIKTOK_WWW, MOCK)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


def approve(authorize_url: str) -> str:
    """What the user's browser does: open the consent page, approve, follow to the
    callback. Returns the Location the mock redirects to."""
    sep = "&" if "?" in authorize_url else "?"
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        opener.open(authorize_url + sep + "auto_approve=1")
    except urllib.error.HTTPError as e:
        if e.code in (302, 303):
            return e.headers["Location"]
        raise RuntimeError(f"authorize: HTTP {e.code}: {e.read()[:300]!r}")
    raise RuntimeError("authorize: no redirect")


def code_of(location: str) -> str:
    q = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)
    if "code" not in q:
        raise RuntimeError(f"authorize: redirect without code: {location}")
    return q["code"][0]


def step(name):
    print(f"--- {name}", flush=True)


def write_video(path, size=200_000):
    with open(path, "wb") as f:
        f.write(b"\x00\x00\x00\x18ftypmp42" + os.urandom(size - 12))
    return path
