/*
 * main.c: the command line. Options are GNU style (getopt_long, anywhere on the line); a
 * headless command (list, status, why, check, run, summary, set, unset, inputs, report,
 * bundle, tutorial, notes, replay) runs without the screen; with no command on a terminal
 * the wizard opens. With --record the wizard runs in a child on a pseudo-terminal (record.c).
 */
#include "config.h"

#include <getopt.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "answers.h"
#include "cli.h"
#include "cli-docs.h"
#include "engine.h"
#include "record.h"
#include "remote.h"
#include "tui.h"
#include "util.h"

static void
usage(FILE *f)
{
	fprintf(f,
"Usage: dstack-wizard [OPTION]... [COMMAND [ARG]...]\n"
"Walk the chain that ends with a dstack KMS running in an Intel TDX confidential VM:\n"
"every step has a check (is it done?) and an action (do it), and a step runs only when\n"
"the steps it requires are done and the inputs it uses are valid.\n"
"\n"
"With no COMMAND on a terminal, the interactive wizard opens (at the first step that is\n"
"not done; F1 or ? shows its keys). Commands:\n"
"  list [--json]        the steps, in order, with where each runs\n"
"  status [--json]      every step's status (ready, done, failed, canceled, stale, ...)\n"
"  preflight            check the SSH connection to the --target server and what the\n"
"                       wizard needs there (sudo, OS, clock, disk)\n"
"  why STEP             what keeps STEP from running\n"
"  check [STEP]...      run checks (no STEP: every step whose requirements hold, up to\n"
"                       eight at once, each step's output printed whole, in order)\n"
"  run STEP [--yes]     run a step's action, then its check\n"
"  run STEP --replace   remove what the step deployed (made from other input values), then\n"
"                       run its action and its check\n"
"  run --all [--yes]    run every step that is not done, in order, stopping at a failure\n"
"  summary [--json]     what was built and where to reach it (KMS and gateway URLs,\n"
"                       contract addresses, the app's URL, the attestation verdict)\n"
"  set NAME VALUE       set an input (validated; secrets are refused here)\n"
"  unset NAME           forget an input's value\n"
"  inputs [--json]      every input, its value, where it came from, and whether it is valid\n"
"  inputs --export FILE write an answers file from the profile (no secret in it)\n"
"  export ansible DIR   write the chain for the release in use as an Ansible project\n"
"                       (site.yml, a task file per step, the profile's inputs; secrets\n"
"                       come from DSTACK_WIZARD_<NAME> when it runs)\n"
"  lint                 check the chain's step files: structure, bash -n, shellcheck;\n"
"                       and, with shellcheck, the program the SSH transport sends\n"
"  report [--output FILE]  the deployment report (Markdown): every step's runs, the\n"
"                       hints shown, the values captured, the final status\n"
"  bundle FILE.tar.gz   a support bundle: state, logs, report, pre-flight, versions,\n"
"                       every secret given to this command taken out\n"
"  tutorial [--output DIR] [--values]\n"
"                       the chain as Markdown pages for the release in use, one per\n"
"                       step (default DIR: tutorial); --values fills in the profile's\n"
"                       values (never a secret's)\n"
"  notes [STEP]         the presenter notes of STEP (or of every step)\n"
"  notes --follow       in a second terminal: the notes of the step the wizard shows,\n"
"                       following it as it moves (q quits)\n"
"  replay FILE [--speed X] [--idle-limit S]\n"
"                       play a recording made with --record in this terminal (space\n"
"                       pauses, + and - go faster and slower, q quits)\n"
"\n"
"Options:\n"
"  -p, --profile NAME   keep state under this profile (default: default)\n"
"  -c, --chain DIR      load the step definitions from DIR (read at every start)\n"
"  -t, --target local   run server steps on this machine (when the wizard runs on the host)\n"
"  -t, --target [USER@]HOST[:PORT]  run server steps on HOST over SSH (remembered in the\n"
"                       profile; resolved by ssh -G: Host, Match, Include, ProxyJump and\n"
"                       ProxyCommand of the ssh config apply); the wizard's server\n"
"                       screen (S) sets it too, with the key and known_hosts files\n"
"      --identity FILE  the SSH private key (ed25519 or ECDSA; default: ssh-agent, then\n"
"                       the IdentityFiles ssh -G gives, RSA last)\n"
"      --known-hosts FILE  the known_hosts file (default: the UserKnownHostsFiles ssh -G\n"
"                       gives, ~/.ssh/known_hosts unless configured)\n"
"      --accept-new-host-key  trust and record an unknown host key without asking\n"
"      --ssh-config FILE  the ssh config file for ssh -G (-F; default: ssh's own; 'none'\n"
"                       for none)\n"
"      --secret-file NAME=PATH  read the secret input NAME from PATH (mode 0600 required)\n"
"      --answers FILE   take the target and inputs from FILE (YAML: target:, inputs:\n"
"                       NAME: VALUE) before anything runs; each value checked as set\n"
"                       checks it, problems as FILE:LINE:COLUMN; never a secret\n"
"      --export FILE    with inputs: write an answers file\n"
"      --json           JSON output (list, status, inputs, summary)\n"
"  -y, --yes            do not ask for confirmation\n"
"      --all            with run: every step that is not done\n"
"      --replace        with run STEP: replace what the step deployed\n"
"      --no-color       no colour (also when NO_COLOR is set)\n"
"      --ascii          the wizard draws ASCII only (automatic when the locale is not UTF-8)\n"
"      --step ID        open the wizard at step ID\n"
"      --presenter      the wizard shows each step's presenter notes in a pane beside it\n"
"                       (120 columns or more; narrower: use notes --follow)\n"
"      --demo           walk the chain on the built-in simulated TDX host (profile 'demo');\n"
"                       with --target USER@127.0.0.1:PORT its server steps go through that\n"
"                       loopback sshd\n"
"      --demo-speed X   the demo's timing: 1 realistic but compressed, 0 no waiting\n"
"      --demo-fail ID   the demo injects step ID's best-known failure (implies --demo);\n"
"                       'none' clears it. Both stay in the demo's sandbox until changed:\n"
"                       a command that gives neither keeps the running ones\n"
"      --record FILE    record what the wizard shows into FILE (asciicast v2, for\n"
"                       asciinema play or replay); keys typed are not recorded\n"
"      --speed X        with replay: play X times as fast (default 1)\n"
"      --idle-limit S   with replay: cut every pause longer than S seconds to S\n"
"      --output FILE|DIR  report's file (default: standard output), tutorial's directory\n"
"      --values         with tutorial: the profile's values in the commands\n"
"  -v, --verbose        more detail\n"
"  -h, --help           show this help and exit\n"
"  -V, --version        show the version and exit\n"
"\n"
"Secrets (the Ethereum private key, API keys) are never taken from the command line: set\n"
"DSTACK_WIZARD_<NAME> (NAME in upper case, e.g. DSTACK_WIZARD_PRIVATE_KEY; removed from the\n"
"environment at start), use --secret-file, or type them when asked. They are never written\n"
"to the state or the logs, and only the commands that name them get them. A private key\n"
"sets an unset wallet_address to its account, and a key and a wallet that differ are refused.\n"
"\n"
"Exit status: 0 ok; 1 a check or an action failed; 2 usage error; 3 refused (a step is\n"
"locked, an input is invalid, or the server's host key is unknown or changed); 4 bad\n"
"chain or answers file, or a state file that cannot be read or written.\n"
"\n"
"State: $XDG_STATE_HOME/dstack-wizard/PROFILE/state.json (default ~/.local/state/...),\n"
"with a log file per run under logs/. Several processes may share a profile: each change\n"
"is made under a lock to the state as it is then; one interactive wizard holds a profile,\n"
"a second may open it read-only.\n"
"See dstack-wizard(1).\n");
}

enum { OPT_SECRET_FILE = 256, OPT_JSON, OPT_ALL, OPT_NO_COLOR, OPT_STATE_DIR, OPT_ASCII,
	OPT_STEP, OPT_DEMO, OPT_DEMO_SPEED, OPT_DEMO_FAIL, OPT_IDENTITY, OPT_KNOWN_HOSTS,
	OPT_ACCEPT_NEW, OPT_SSH_CONFIG, OPT_RECORD, OPT_SPEED, OPT_IDLE_LIMIT, OPT_OUTPUT,
	OPT_VALUES, OPT_FOLLOW, OPT_PRESENTER, OPT_ANSWERS, OPT_EXPORT, OPT_REPLACE };

/* --demo, --demo-speed X, --demo-fail ID: the simulated host (steps/demo.c). */
static int
demo_option(struct engine_opts *eo, int c, const char *arg)
{
	char *end;

	if (!eo->demo)
		eo->demo_speed = 1;
	eo->demo = true;
	if (c == OPT_DEMO_SPEED) {
		eo->demo_speed = strtod(arg, &end);
		eo->demo_speed_set = true;
		if (end == arg || *end != '\0' || !isfinite(eo->demo_speed) || eo->demo_speed < 0 ||
		    eo->demo_speed > 1000) {
			fprintf(stderr, "dstack-wizard: --demo-speed wants a number from 0 to 1000, "
			    "not '%s'\n", arg);
			return -1;
		}
	} else if (c == OPT_DEMO_FAIL)
		eo->demo_fail = arg;
	return 0;
}

/* --speed X, --idle-limit S: a positive number of at most 1000. */
static int
replay_option(const char *name, const char *arg, double *out)
{
	char *end;

	*out = strtod(arg, &end);
	if (end == arg || *end != '\0' || !isfinite(*out) || *out <= 0 || *out > 1000) {
		fprintf(stderr, "dstack-wizard: %s wants a number above 0, at most 1000, not '%s'\n",
		    name, arg);
		return -1;
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "chain", required_argument, NULL, 'c' },
		{ "target", required_argument, NULL, 't' },
		{ "secret-file", required_argument, NULL, OPT_SECRET_FILE },
		{ "identity", required_argument, NULL, OPT_IDENTITY },
		{ "known-hosts", required_argument, NULL, OPT_KNOWN_HOSTS },
		{ "accept-new-host-key", no_argument, NULL, OPT_ACCEPT_NEW },
		{ "ssh-config", required_argument, NULL, OPT_SSH_CONFIG },
		{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "yes", no_argument, NULL, 'y' },
		{ "all", no_argument, NULL, OPT_ALL },
		{ "replace", no_argument, NULL, OPT_REPLACE },
		{ "no-color", no_argument, NULL, OPT_NO_COLOR },
		{ "ascii", no_argument, NULL, OPT_ASCII },
		{ "step", required_argument, NULL, OPT_STEP },
		{ "demo", no_argument, NULL, OPT_DEMO },
		{ "demo-speed", required_argument, NULL, OPT_DEMO_SPEED },
		{ "demo-fail", required_argument, NULL, OPT_DEMO_FAIL },
		{ "record", required_argument, NULL, OPT_RECORD },
		{ "speed", required_argument, NULL, OPT_SPEED },
		{ "idle-limit", required_argument, NULL, OPT_IDLE_LIMIT },
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ "values", no_argument, NULL, OPT_VALUES },
		{ "follow", no_argument, NULL, OPT_FOLLOW },
		{ "presenter", no_argument, NULL, OPT_PRESENTER },
		{ "answers", required_argument, NULL, OPT_ANSWERS },
		{ "export", required_argument, NULL, OPT_EXPORT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct engine_opts eo = {0};
	struct cli_opts co = {0};
	struct tui_opts to = {0};
	struct docs_opts dop = {0};
	struct strvec secret_files = {0}, env_secrets = {0};
	struct engine *e = NULL;
	struct record *rec = NULL;
	const char *record = NULL, *answers_path = NULL;
	struct answers *ans = NULL;
	char *cause = NULL;
	double speed = 0, idle = 0;
	bool no_color = false;
	enum engine_err err;
	int c, rc;

	/* First of all: no child may inherit a secret given in the environment. */
	engine_env_take(&env_secrets);
	setlocale(LC_CTYPE, "");
	/* Past a file-size limit, a write is to fail (EFBIG, reported) rather than kill us. */
	signal(SIGXFSZ, SIG_IGN);
	while ((c = getopt_long(argc, argv, "p:c:t:yvhV", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			eo.profile = optarg;
			break;
		case 'c':
			eo.chain_dir = optarg;
			break;
		case 't':
			eo.target = optarg;
			break;
		case OPT_IDENTITY:
			eo.identity = optarg;
			break;
		case OPT_KNOWN_HOSTS:
			eo.known_hosts = optarg;
			break;
		case OPT_ACCEPT_NEW:
			eo.accept_new_host_key = true;
			break;
		case OPT_SSH_CONFIG:
			eo.ssh_config = optarg;
			break;
		case OPT_SECRET_FILE:
			sv_push(&secret_files, optarg);
			break;
		case OPT_STATE_DIR:
			eo.state_dir = optarg;
			break;
		case OPT_JSON:
			co.json = true;
			break;
		case 'y':
			co.yes = true;
			break;
		case OPT_ALL:
			co.all = true;
			break;
		case OPT_REPLACE:
			co.replace = true;
			break;
		case OPT_NO_COLOR:
			no_color = true;
			break;
		case OPT_ASCII:
			to.ascii = true;
			break;
		case OPT_STEP:
			to.step = optarg;
			break;
		case OPT_DEMO:
		case OPT_DEMO_SPEED:
		case OPT_DEMO_FAIL:
			if (demo_option(&eo, c, optarg) != 0) {
				rc = EXIT_USAGE;
				goto out;
			}
			break;
		case OPT_RECORD:
			record = optarg;
			break;
		case OPT_OUTPUT:
			dop.output = optarg;
			break;
		case OPT_VALUES:
			dop.values = true;
			break;
		case OPT_FOLLOW:
			dop.follow = true;
			break;
		case OPT_PRESENTER:
			to.presenter = true;
			break;
		case OPT_ANSWERS:
			answers_path = optarg;
			break;
		case OPT_EXPORT:
			co.export_file = optarg;
			break;
		case OPT_SPEED:
		case OPT_IDLE_LIMIT:
			if (replay_option(c == OPT_SPEED ? "--speed" : "--idle-limit", optarg,
			    c == OPT_SPEED ? &speed : &idle) != 0) {
				rc = EXIT_USAGE;
				goto out;
			}
			break;
		case 'v':
			eo.verbose = true;
			break;
		case 'h':
			usage(stdout);
			rc = EXIT_OK;
			goto out;
		case 'V':
			printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			rc = EXIT_OK;
			goto out;
		default:
			fprintf(stderr, "Try 'dstack-wizard --help'.\n");
			rc = EXIT_USAGE;
			goto out;
		}
	}
	argc -= optind;
	argv += optind;
	if (eo.demo && eo.profile == NULL)
		eo.profile = "demo";
	if ((speed > 0 || idle > 0) && (argc == 0 || strcmp(argv[0], "replay") != 0)) {
		fprintf(stderr, "dstack-wizard: --speed and --idle-limit go with replay\n");
		rc = EXIT_USAGE;
		goto out;
	}
	if (argc > 0 && strcmp(argv[0], "replay") == 0) {
		if (argc != 2 || record != NULL) {
			fprintf(stderr, "dstack-wizard: usage: replay FILE [--speed X] "
			    "[--idle-limit S]\n");
			rc = EXIT_USAGE;
		} else
			rc = record_replay(argv[1], speed, idle);
		goto out;
	}
	if (record != NULL && argc > 0 && strcmp(argv[0], "lint") == 0) {
		fprintf(stderr, "dstack-wizard: --record does not go with lint\n");
		rc = EXIT_USAGE;
		goto out;
	}
	if (argc > 0 && strcmp(argv[0], "lint") == 0) {
		char *dir = eo.chain_dir ? xstrdup(eo.chain_dir) :
		    xprintf("%s/chain", engine_datadir());

		rc = argc == 1 ? cli_lint(dir) : cli_extra_args(argc, argv, "lint (--chain DIR names "
		    "another chain)");
		free(dir);
		goto out;
	}
	if ((rc = docs_check(argc, argv, &dop)) != EXIT_OK)
		goto out;
	if (argc > 0 && !cli_is_command(argv[0]) && !docs_is_command(argv[0])) {
		fprintf(stderr, "dstack-wizard: unknown command '%s'\nTry 'dstack-wizard --help'.\n",
		    argv[0]);
		rc = EXIT_USAGE;
		goto out;
	}
	if (co.export_file != NULL && (argc == 0 || strcmp(argv[0], "inputs") != 0)) {
		fprintf(stderr, "dstack-wizard: --export FILE goes with inputs\n");
		rc = EXIT_USAGE;
		goto out;
	}
	if (to.presenter && argc > 0) {
		fprintf(stderr, "dstack-wizard: --presenter opens the interactive wizard; it does "
		    "not go with '%s'\n", argv[0]);
		rc = EXIT_USAGE;
		goto out;
	}
	if (to.step != NULL && argc > 0) {
		fprintf(stderr, "dstack-wizard: --step opens the interactive wizard; it does not go "
		    "with '%s'\n", argv[0]);
		rc = EXIT_USAGE;
		goto out;
	}
	if (to.step != NULL && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
		fprintf(stderr, "dstack-wizard: --step opens the interactive wizard, which needs a "
		    "terminal\n");
		rc = EXIT_USAGE;
		goto out;
	}
	if (record != NULL) {
		/* From here on the wizard runs in the child, on a pseudo-terminal. */
		pid_t pid = record_fork(record, eo.demo ? "dstack-wizard --demo" : "dstack-wizard",
		    &rec, &cause);

		if (pid < 0) {
			fprintf(stderr, "dstack-wizard: %s\n", cause);
			free(cause);
			rc = EXIT_USAGE;
			goto out;
		}
		if (pid > 0) {
			engine_env_free(&env_secrets);
			sv_free(&secret_files);
			return record_relay(&rec);
		}
	}
	/* An answers file gives the target and the inputs before anything runs. */
	if (answers_path != NULL) {
		if (answers_load(answers_path, &ans, &cause) != 0) {
			fprintf(stderr, "%s\n", cause);
			free(cause);
			rc = EXIT_BAD_FILE;
			goto out;
		}
		if (ans->target != NULL && eo.target != NULL && strcmp(ans->target, eo.target) != 0) {
			fprintf(stderr, "dstack-wizard: %s:%d:%d: the target %s differs from --target "
			    "%s\n", ans->file, ans->target_line, ans->target_col, ans->target,
			    eo.target);
			rc = EXIT_USAGE;
			goto out;
		}
		if (ans->target != NULL)
			eo.target = ans->target;
	}
	co.color = !no_color && isatty(STDOUT_FILENO) && getenv("NO_COLOR") == NULL;
	to.color = !no_color && (getenv("NO_COLOR") == NULL || *getenv("NO_COLOR") == '\0');
	/* --demo --target USER@127.0.0.1:PORT: the demo's server steps go through that sshd. */
	to.target = !eo.demo ? eo.target : eo.target != NULL ? "demo (simulated host, over SSH)" :
	    "demo (simulated host)";

	eo.env_secrets = &env_secrets;
	eo.secret_files = &secret_files;
	rc = engine_open(&eo, &e, &err, &cause);
	engine_env_free(&env_secrets);
	sv_free(&secret_files);
	if (rc != 0) {
		fprintf(stderr, "dstack-wizard: %s\n", cause);
		free(cause);
		answers_free(&ans);
		return err == EERR_USAGE ? EXIT_USAGE : err == EERR_REFUSED ? EXIT_REFUSED :
		    EXIT_BAD_FILE;
	}
	if (engine_notice(e) != NULL)
		fprintf(stderr, "dstack-wizard: %s\n", engine_notice(e));
	if (ans != NULL && engine_apply_answers(e, ans, &err, &cause) != 0) {
		fprintf(stderr, "%s\n", cause);
		free(cause);
		engine_close(&e);
		answers_free(&ans);
		return err == EERR_REFUSED ? EXIT_REFUSED : EXIT_BAD_FILE;
	}

	if (to.target == NULL && engine_remote(e) != NULL)
		to.target = remote_label(engine_remote(e));   /* the remembered target */
	if (argc == 0 && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO))
		rc = tui_run(e, &to);
	else if (argc > 0 && docs_is_command(argv[0]))
		rc = docs_run(e, argc, argv, &dop);
	else if (argc == 0) {
		char *status[] = { (char *)"status", NULL };

		rc = cli_run(e, 1, status, &co);
	} else
		rc = cli_run(e, argc, argv, &co);
	engine_close(&e);
	answers_free(&ans);
	return rc;
out:
	engine_env_free(&env_secrets);
	sv_free(&secret_files);
	answers_free(&ans);
	return rc;
}
