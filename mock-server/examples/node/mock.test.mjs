// Runs the tiktok-mock binary for the tests of a Node app, with node:test (Node 18+, no
// dependencies). The binary prints one JSON line when ready (--ready-json): its URL, the demo
// apps and two ready access tokens. TIKTOK_MOCK_BIN names the binary (default: tiktok-mock on
// the PATH, as `cargo install --path mock-server` puts it there).
//
//   node --test mock-server/examples/node/

import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";

let mock;
let ready;

before(async () => {
  mock = spawn(
    process.env.TIKTOK_MOCK_BIN ?? "tiktok-mock",
    ["--addr", "127.0.0.1:0", "--clock", "manual", "--ready-json"],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  const lines = createInterface({ input: mock.stdout });
  const [line] = await Promise.race([
    new Promise((resolve) => lines.once("line", (first) => resolve([first]))),
    new Promise((_, reject) => mock.once("exit", (code) => reject(new Error(`tiktok-mock exited with ${code}`)))),
  ]);
  ready = JSON.parse(line);
});

after(() => {
  mock.kill("SIGTERM"); // the mock shuts down gracefully
});

test("user info answers the demo creator", async () => {
  const response = await fetch(`${ready.url}/v2/user/info/?fields=open_id,display_name`, {
    headers: { Authorization: `Bearer ${ready.tokens.full.access_token}` },
  });
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.error.code, "ok");
  assert.equal(body.data.user.display_name, "Demo Creator");
  assert.equal(body.data.user.open_id, ready.tokens.full.open_id);
});
