// passport-tiktok-auth (npm), its v2 mode (the default): the redirect to the consent
// page, the code exchange and the profile (GET /v2/user/info/). Passport strategies
// run inside a web framework; here the strategy is driven directly, as passport does
// (it adds redirect/success/fail/error to the strategy for each request).
// Its URLs are options (authorizationURL, tokenURL, profileURL): no patch needed.
import { createRequire } from "node:module";
import { MOCK, demoApp, approve, codeOf, step } from "./common.mjs";
const require = createRequire(import.meta.url);
const { Strategy } = require("passport-tiktok-auth");

const app = await demoApp();
const unknownFields = process.env.UNKNOWN_FIELDS || "reject";

function run(strategy, req) {
  return new Promise((resolve, reject) => {
    const s = Object.create(strategy);
    s.redirect = (url) => resolve({ redirect: url });
    s.success = (user, info) => resolve({ user, info });
    s.fail = (challenge, status) => reject(new Error(`fail ${status}: ${JSON.stringify(challenge)}`));
    s.error = (err) => reject(err);
    s.authenticate(req, {});
  });
}

async function settings(body) {
  const r = await fetch(`${MOCK}/_mock/settings`, { method: "POST", body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`settings: ${r.status} ${await r.text()}`);
}

function strategyWith(scope) {
  return new Strategy(
    {
      clientID: app.client_key,
      clientSecret: app.client_secret,
      scope,
      callbackURL: app.redirect_uris[0],
      authorizationURL: `${MOCK}/v2/auth/authorize/`,
      tokenURL: `${MOCK}/v2/oauth/token/`,
      profileURL: `${MOCK}/v2/user/info/`,
    },
    (accessToken, refreshToken, profile, done) => done(null, { accessToken, refreshToken, profile }),
  );
}

async function login(scope) {
  const strategy = strategyWith(scope);
  step(`authorize (the strategy's redirect), scope ${scope}`);
  const { redirect } = await run(strategy, { query: {} });
  console.log("authorize URL:", redirect);
  const code = codeOf(await approve(redirect));
  console.log("code:", code);
  step("exchange code + user info (the strategy's callback)");
  return run(strategy, { query: { code } });
}

// 1. As a new user: the default scope (user.info.basic). The code exchange goes through;
// the profile call asks for fields (username, follower_count, following_count,
// likes_count, and the v1 name avatar_url_200) that user.info.basic does not cover.
try {
  await login(["user.info.basic"]);
  throw new Error("unexpected: the profile call went through, update this probe");
} catch (e) {
  const body = e.oauthError && e.oauthError.data;
  console.log("KNOWN CLIENT BUG:", e.message, e.oauthError && e.oauthError.statusCode, body);
  if (!body || !/scope_permission_missed|avatar_url_200/.test(body)) throw e;
}

// 2. With every user scope: only avatar_url_200 remains; the mock rejects unknown field
// names by default (TikTok does not document it) and has a setting to leave them out.
try {
  await login(["user.info.basic", "user.info.profile", "user.info.stats"]);
  throw new Error("unexpected: the profile call went through, update this probe");
} catch (e) {
  const body = e.oauthError && e.oauthError.data;
  console.log("KNOWN (v1 field name):", e.message, e.oauthError && e.oauthError.statusCode, body);
  if (!body || !/avatar_url_200/.test(body)) throw e;
}

await settings({ api: { unknown_fields: "ignore" } });
try {
  const { user } = await login(["user.info.basic", "user.info.profile", "user.info.stats"]);
  console.log("profile:", JSON.stringify({ id: user.profile.id, displayName: user.profile.displayName, followerCount: user.profile.followerCount }));
  if (!user.profile.id) throw new Error("no open_id in profile");
} finally {
  await settings({ api: { unknown_fields: "reject" } });
}
console.log("OK passport-tiktok-auth");
