// The official TypeScript SDK's OAuth client provider against the gateway, driven by
// `oauth_typescript.rs`: node oauth_client.mjs SDK_DIR MCP_URL REDIRECT_URI.
// Prints one JSON line per step; reads the redirect (with the code) on stdin.
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';

const [sdkDir, mcpUrl, redirect] = process.argv.slice(2);
const load = (path) => import(pathToFileURL(`${sdkDir}/dist/esm/${path}`).href);
const { Client } = await load('client/index.js');
const { StreamableHTTPClientTransport } = await load('client/streamableHttp.js');
const { UnauthorizedError } = await load('client/auth.js');

const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (value) => console.log(JSON.stringify(value));

let information;
let tokens;
let verifier;
const provider = {
  get redirectUrl() { return redirect; },
  get clientMetadata() {
    return {
      client_name: 'typescript e2e',
      redirect_uris: [redirect],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  },
  state() { return 'ts-state'; },
  clientInformation() { return information; },
  saveClientInformation(saved) { information = saved; },
  tokens() { return tokens; },
  saveTokens(saved) { tokens = saved; },
  redirectToAuthorization(url) { say({ authorize: url.toString() }); },
  saveCodeVerifier(saved) { verifier = saved; },
  codeVerifier() { return verifier; },
};

const transport = () => new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider });
const connected = async () => {
  const client = new Client({ name: 'typescript-e2e', version: '0' });
  await client.connect(transport());
  return client;
};
const toolNames = async (client) => {
  const names = [];
  let cursor;
  do {
    const page = await client.listTools(cursor ? { cursor } : {});
    names.push(...page.tools.map((tool) => tool.name));
    cursor = page.nextCursor;
  } while (cursor);
  return names;
};

// Discovery and registration happen on the first 401; the browser step is the test's.
const first = transport();
try {
  await new Client({ name: 'typescript-e2e', version: '0' }).connect(first);
  throw new Error('connected without authorization');
} catch (error) {
  if (!(error instanceof UnauthorizedError)) throw error;
}
const back = new URL((await lines.next()).value);
if (back.searchParams.get('state') !== 'ts-state') throw new Error(`state: ${back}`);
await first.finishAuth(back.searchParams.get('code'));
let client = await connected();
say({ tools: await toolNames(client), client_id: information.client_id, access_token: tokens.access_token });
await client.close();

// A dead access token: the SDK refreshes on the 401 and carries on.
const before = tokens;
tokens = { ...tokens, access_token: 'tgo_dead' };
client = await connected();
say({ tools: await toolNames(client), access_token: tokens.access_token, refreshed: tokens.refresh_token !== before.refresh_token });
await client.close();
process.exit(0);
