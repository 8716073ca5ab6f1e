// arctic (npm), its TikTok provider: authorization URL with PKCE, code exchange,
// refresh, revoke. It covers Login Kit only (no API calls).
// Its endpoints are module constants with no setting, so global fetch is wrapped here
// to send them to the mock (this process only).
import * as arctic from "arctic";
import { MOCK, toMock, demoApp, approve, codeOf, step } from "./common.mjs";

const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) =>
  realFetch(input instanceof Request ? new Request(toMock(input.url), input) : toMock(input), init);

const app = await demoApp();
const tiktok = new arctic.TikTok(app.client_key, app.client_secret, app.redirect_uris[0]);
const state = arctic.generateState();
const verifier = arctic.generateCodeVerifier();

step("authorize");
const url = tiktok.createAuthorizationURL(state, verifier, ["user.info.basic", "video.list"]);
console.log("authorize URL:", url.href);
// arctic builds https://www.tiktok.com/v2/auth/authorize (no trailing slash); the mock's
// consent page answers there too.
const location = await approve(toMock(url.href));
console.log("as built (no trailing slash): redirect", location);
const code = codeOf(location);

step("exchange code");
const tokens = await tiktok.validateAuthorizationCode(code, verifier);
console.log("access token:", tokens.accessToken().slice(0, 8) + "…", "expires:", tokens.accessTokenExpiresAt().toISOString(),
  "scopes:", tokens.data.scope, "open_id:", tokens.data.open_id);

step("user info (not in arctic: one plain fetch with its token)");
const r = await realFetch(`${MOCK}/v2/user/info/?fields=open_id,display_name`, {
  headers: { Authorization: `Bearer ${tokens.accessToken()}` },
});
const me = await r.json();
console.log(r.status, JSON.stringify(me));
if (me.error.code !== "ok") throw new Error("user info failed");

step("refresh");
const refreshed = await tiktok.refreshAccessToken(tokens.refreshToken());
console.log("new access token:", refreshed.accessToken().slice(0, 8) + "…", "rotated refresh:", refreshed.refreshToken() !== tokens.refreshToken());

step("revoke");
await tiktok.revokeToken(refreshed.accessToken());
const after = await realFetch(`${MOCK}/v2/user/info/?fields=open_id`, {
  headers: { Authorization: `Bearer ${refreshed.accessToken()}` },
});
console.log("user info after revoke:", after.status, (await after.json()).error.code);
if (after.status !== 401) throw new Error("token still works after revoke");
console.log("OK arctic");
