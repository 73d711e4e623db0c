/**
 * The help texts more than one command shows: `doozer help` itself, in the original Go client's
 * layout, the exit codes, and what --at, --in and --callback do. Each command's own is beside it.
 */

export const EXIT_CODES_HELP = `
Exit codes:
  0  done (or deferred, without --wait; or set to run later)
  1  the task failed or was cancelled, no such task, a task to cancel had ended,
     or a batch line was refused for something in it
  2  usage error, found before any request: a bad flag, number, JSON or setting
  3  authentication failed, or logins refused for a while (too many wrong passwords)
  4  the service is unreachable or answered 5xx, or 429 (too many requests) still
     after one retry or asking to wait over 5 s (batch: lines refused only for those)
  5  deferred, and --wait timed out
  6  the service refused the request (a 4xx: bad args, an unknown task, a --at in
     the past, a callback URL it will not call), with its message`;

export const ROOT_HELP = `Simple client to interact with the doozer API service.

Usage:
  doozer
  doozer [command]

Available Commands:
  add         Add api call.
  batch       Submit the tasks of a file, one JSON request a line.
  cancel      Cancel a task that has not ended.
  help        Help about any command
  list        List your tasks, newest first.
  lookup      Lookup a task uuid.
  mul         Multiply api call.
  run         Run a task with its args.
  tasks       List the task types and their args.
  token       Print a JWT token.
  version     Print the version.

Flags:
      --url <url>            API URL (DOOZER_URL; default http://127.0.0.1:3000)
      --username <name>      user (DOOZER_USERNAME; default doozer)
      --password <password>  password (DOOZER_PASSWORD; default doozer); visible in process
                             listings, so prefer DOOZER_PASSWORD or --password-stdin
      --password-stdin       read the password from standard input
      --json                 print the API's JSON instead of text, and a failure as
                             {"error":{"code","message","status"}} on stdout
  -h, --help                 help for doozer
  -v, --version              print the version

Settings come from flags, then the environment, then $XDG_CONFIG_HOME/doozer/config.json
({"url","username","password"}), then the defaults for the local stack (npm start).

A request refused with 429 (too many requests) and a Retry-After of up to 5 s is sent once
more after that wait, with a note on stderr (safe for a submission too: a 429 comes before
anything is recorded). A longer wait or a second 429 ends the command: exit 4 (3 at login).
${EXIT_CODES_HELP}

Use "doozer [command] --help" for more information about a command.
`;

export const AT_HELP = 'run it at this time instead of now, without waiting: ISO 8601 with Z or an offset (2026-12-01T18:30Z), or without one for local time';
export const IN_HELP = 'run it after this delay instead of now, without waiting: 90s, 20m, 2h, 1d, 1h30m, or seconds';
export const CALLBACK_HELP = 'when the task ends, the service POSTs its JSON (a signed Standard Webhook) to this http(s) URL';

export const LATER_HELP = `
--at and --in set the task to run later, up to 7 days ahead: it is accepted at once (SCHEDULED, or
PENDING with its time when it runs within 15 minutes), and doozer prints it without waiting. A time
without a zone is this machine's local time (TZ); one with Z or an offset is that zone's.

--callback <url> has the service POST the task's JSON to <url> when the task ends, signed the
Standard Webhooks way (webhook-id, webhook-timestamp, webhook-signature headers), and retried
while the receiver does not answer 2xx; verifyWebhook of the doozer-cli package checks one.
doozer lookup shows how the delivery went (Webhook : delivered (1 attempt, HTTP 204)). The URL
must be absolute http or https; anything else is refused before anything is sent (exit 2), and
one the service will not call is its refusal (exit 6).`;
