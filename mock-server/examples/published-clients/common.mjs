// Helpers shared by the Node probes: the mock's URL, its demo app, and a browser
// stand-in for the consent page (auto_approve=1, read the redirect).
export const MOCK = (process.argv[2] || process.env.MOCK_URL).replace(/\/$/, "");
export const toMock = (url) =>
  String(url).replace("https://open.tiktokapis.com", MOCK).replace("https://www.tiktok.com", MOCK);

export async function demoApp() {
  const r = await fetch(`${MOCK}/_mock/apps`);
  const j = await r.json();
  return (j.apps || j)[0];
}

// Returns the Location of the redirect the consent page answers with.
export async function approve(authorizeUrl) {
  const u = new URL(authorizeUrl);
  u.searchParams.set("auto_approve", "1");
  const r = await fetch(u, { redirect: "manual" });
  if (r.status !== 302 && r.status !== 303) {
    throw new Error(`authorize: HTTP ${r.status}: ${(await r.text()).slice(0, 200)}`);
  }
  return r.headers.get("location");
}

export function codeOf(location) {
  const code = new URL(location).searchParams.get("code");
  if (!code) throw new Error(`authorize: redirect without code: ${location}`);
  return code;
}

export const step = (name) => console.log(`--- ${name}`);
