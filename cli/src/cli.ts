/** The bundle's entry (cli/dist/graycast.mjs): runs main with the process's streams and exits with its code. */
import { main } from "./main";

const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
});
// Output written to a pipe is flushed before exiting.
process.exitCode = code;
