import { join } from 'node:path';
import { loadLocalConfig } from './config.ts';
import { CONNECTION_FILE } from './connection-file.ts';
import { type EmbeddedStack, startEmbeddedStack } from './stack.ts';
import { StartRefused } from './start-refused.ts';

let config: ReturnType<typeof loadLocalConfig>;
try {
  config = loadLocalConfig(process.env);
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}

let stack: EmbeddedStack;
try {
  stack = await startEmbeddedStack(config);
} catch (error) {
  // A data dir or port already taken: the message says which and how to choose another.
  if (!(error instanceof StartRefused)) throw error;
  console.error(error.message);
  process.exit(1);
}
console.log(`sdbatch is running (data in ${config.SDBATCH_DATA_DIR})

  MCP URL:   ${stack.mcpUrl}
  Token:     ${stack.token}
  SD WebUI:  ${stack.sdWebUiUrl}${stack.simulator ? ` (built-in simulator${stack.simulators.length > 1 ? 's' : ''})` : ''}

Add it to Claude Code, for this project directory only:

  claude mcp add --transport http sdbatch ${stack.mcpUrl} --header "Authorization: Bearer ${stack.token}"

or for every directory you open Claude Code in (--scope user):

  claude mcp add --transport http --scope user sdbatch ${stack.mcpUrl} --header "Authorization: Bearer ${stack.token}"

The sdbatch CLI finds this stack through ${join(config.SDBATCH_DATA_DIR, CONNECTION_FILE)}.

${stack.resumed.length > 0 ? `Resumed ${stack.resumed.length} unfinished job(s): ${stack.resumed.join(', ')}\n\n` : ''}Ctrl-C stops it; jobs and images stay in ${config.SDBATCH_DATA_DIR}.`);

let stopping = false;
// The stores stopped and could not be brought back: one line, then a stop with status 1.
void stack.gaveUp.then(async (line) => {
  if (stopping) return;
  stopping = true;
  console.error(line);
  await stack.stop();
  process.exit(1);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping sdbatch...`);
    await stack.stop();
    process.exit(0);
  });
}
