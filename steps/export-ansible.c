/*
 * export-ansible.c: `export ansible DIR`, the chain for the release in use as an Ansible
 * project (export.h). What it writes:
 *
 *   ansible.cfg, README.md, inventory.example.yml (a tdx_hosts group)
 *   site.yml                          one play per section, in chain order
 *   steps/NN-<id>.yml                 one task file per step, imported with the tags
 *                                     <section> and <id>
 *   group_vars/all/dstack-inputs.yml  the profile's non-secret inputs, as dw_<name>
 *   group_vars/all/dstack-settings.yml
 *   library/, module_utils/, action_plugins/   copied from assets/ansible: the probes,
 *                                     the check's verdict, captures, hints, input checks
 *
 * A step's tasks: its inputs checked; each check command, read-only (changed_when and
 * failed_when false); the verdict; for a manual step the checklist (a pause, tag
 * "checklist"); the action commands only when the check failed, each followed by the
 * captures; the check again, which must pass; on any failure the step's hints.
 *
 * Values never become code. Every file goes through libyaml's emitter, which quotes each
 * scalar; text from the chain or the profile that holds {{, {% or {# is tagged !unsafe, so
 * Jinja2 leaves it alone (names only have the sequence broken, "{ {"); where the playbook
 * must compute a value (a probe's URL, a command's environment), the chain's literal text
 * becomes Jinja2 string literals (or base64, see jx_literal) and each ${name} the variable
 * dw_<name>. A command's environment reaches it on its standard input, base64: Ansible
 * templates its environment keyword twice. A secret is never written: a task reads it with
 * lookup('env', 'DSTACK_WIZARD_<NAME>') (or the operator's vault variable dw_<name>) and
 * has no_log.
 */
#include "config.h"

#include "export.h"
#include "export-int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "chain.h"
#include "demo.h"
#include "engine.h"
#include "util.h"

#define EXPORT_MARKER ".dstack-wizard-export"

/* The files copied from assets/ansible. */
static const char *const export_assets[] = {
	"library/dstack_probe.py",
	"module_utils/dstack_wizard.py",
	"action_plugins/dstack_inputs.py",
	"action_plugins/dstack_verdict.py",
	"action_plugins/dstack_capture.py",
	"action_plugins/dstack_hints.py",
};

/* Write a text file of the exporter's own. */
static int
ex_write(struct ex *x, const char *rel, const char *text, char **cause)
{
	char *path = xprintf("%s/%s", x->dir, rel);
	FILE *f = fopen(path, "w");
	int rc = 0;

	if (f == NULL || fputs(text, f) == EOF)
		rc = set_cause(cause, "%s: %s", path, strerror(errno));
	if (f != NULL && fclose(f) != 0 && rc == 0)
		rc = set_cause(cause, "%s: %s", path, strerror(errno));
	free(path);
	return rc;
}

/* Copy assets/ansible/<rel> into the project. */
static int
ex_copy(struct ex *x, const char *rel, char **cause)
{
	char *src = xprintf("%s/ansible/%s", engine_datadir(), rel), *text = NULL;
	size_t len;
	int rc;

	if (read_file(src, 1 << 20, &text, &len, cause) != 0) {
		free(src);
		return -1;
	}
	free(src);
	rc = ex_write(x, rel, text, cause);
	free(text);
	return rc;
}

/* site.yml: one play per section, its steps imported in chain order. */
static int
ex_site(struct ex *x, char **cause)
{
	char *path = xprintf("%s/site.yml", x->dir), *t;
	struct ey y;
	bool first = true;
	int rc;

	rc = ey_open(&y, path, "# The chain, one play per section in walking order, one task file "
	    "per step (steps/).\n# Written by dstack-wizard export ansible; see README.md.\n", cause);
	free(path);
	if (rc != 0)
		return -1;
	ey_seq(&y, false);
	for (size_t sec = 0; sec < x->c->nsections; sec++) {
		const struct section *se = &x->c->sections[sec];
		bool any = false;

		for (size_t s = 0; s < x->c->nsteps; s++)
			any = any || x->c->steps[s].section == sec;
		if (!any)
			continue;
		ey_map(&y);
		t = xprintf("Section %s: %s", se->id, se->title);
		ey_name(&y, t);
		free(t);
		ey_kv_word(&y, "hosts", "tdx_hosts");
		ey_kv_word(&y, "gather_facts", "false");
		ey_word(&y, "tags");
		ey_seq(&y, true);
		ey_word(&y, se->id);
		ey_end_seq(&y);
		if (x->demo_env != NULL) {
			ey_word(&y, "environment");
			ey_map(&y);
			for (char **v = x->demo_env; *v != NULL; v++) {
				char *name = xstrndup(*v, strcspn(*v, "="));

				if (strcmp(name, "DEMO_STEP") != 0) {
					ey_word(&y, name);
					ey_demo_value(x, &y, *v + strlen(name) + 1);
				}
				free(name);
			}
			ey_end_map(&y);
		}
		ey_word(&y, "tasks");
		ey_seq(&y, false);
		if (first && x->version != NULL && chain_input_index(x->c, VERSION_INPUT) >= 0) {
			ey_map(&y);
			ey_name(&y, "The project is for this release");
			ey_word(&y, "dstack_inputs");
			ey_map(&y);
			ey_kv_text(&y, "step", "the project");
			ey_word(&y, "inputs");
			ey_seq(&y, false);
			ey_map(&y);
			ey_kv_word(&y, "name", VERSION_INPUT);
			ey_word(&y, "value");
			ey_jinja(&y, "dw_" VERSION_INPUT " | string");
			ey_word(&y, "choices");
			ey_seq(&y, true);
			ey_text(&y, x->version);
			ey_end_seq(&y);
			ey_end_map(&y);
			ey_end_seq(&y);
			ey_end_map(&y);
			ey_word(&y, "tags");
			ey_seq(&y, true);
			ey_word(&y, "always");
			ey_end_seq(&y);
			ey_end_map(&y);
		}
		first = false;
		for (size_t s = 0; s < x->c->nsteps; s++) {
			const struct step *st = &x->c->steps[s];

			if (st->section != sec)
				continue;
			ey_map(&y);
			t = xprintf("Step %s: %s", st->id, st->title);
			ey_name(&y, t);
			free(t);
			t = xprintf("steps/%02zu-%s.yml", s + 1, st->id);
			ey_kv_text(&y, "ansible.builtin.import_tasks", t);
			free(t);
			ey_word(&y, "tags");
			ey_seq(&y, true);
			ey_word(&y, st->id);
			ey_end_seq(&y);
			ey_end_map(&y);
		}
		ey_end_seq(&y);
		ey_end_map(&y);
	}
	ey_end_seq(&y);
	return ey_close(&y, cause);
}

/* group_vars/all/dstack-inputs.yml: every non-secret input, dw_<name>. */
static int
ex_inputs_file(struct ex *x, char **cause)
{
	char *path = xprintf("%s/group_vars/all/dstack-inputs.yml", x->dir);
	struct ey y;
	int rc;

	rc = ey_open(&y, path, "# The inputs of the chain, from the profile the project was "
	    "exported from: a value set\n# or captured there, else the chain's default (which "
	    "follows the inputs it names).\n# Set a host's own values in the inventory (they win "
	    "over these). Secrets are not\n# here: the playbook reads DSTACK_WIZARD_<NAME> from "
	    "its environment, or dw_<name>\n# from a vault file (README.md). Written by "
	    "dstack-wizard export ansible.\n", cause);
	free(path);
	if (rc != 0)
		return -1;
	ey_map(&y);
	for (size_t i = 0; i < x->c->ninputs; i++) {
		const struct input_def *d = &x->c->inputs[i];
		struct input_value iv;
		const char *def;
		char *var;

		if (d->secret)
			continue;
		engine_input(x->e, i, &iv);
		var = xprintf("dw_%s", d->name);
		ey_word(&y, var);
		free(var);
		def = chain_input_default(d, x->version);
		if (iv.source == SRC_DEFAULT || (iv.source == SRC_NONE && def != NULL))
			ey_value(&y, x->c, def, 0);
		else if (iv.value != NULL)
			ey_demo_value(x, &y, iv.value);
		else
			ey_text(&y, "");
		input_value_clear(&iv);
	}
	ey_end_map(&y);
	return ey_close(&y, cause);
}

/* group_vars/all/dstack-settings.yml: how the playbook runs. */
static int
ex_settings(struct ex *x, char **cause)
{
	char *path = xprintf("%s/group_vars/all/dstack-settings.yml", x->dir);
	struct ey y;
	int rc;

	rc = ey_open(&y, path, x->sandbox ? "# How the playbook runs (README.md). A --demo export: "
	    "every demo host is a world of its\n# own (its sandbox, with its own simulated chain and "
	    "operator's home), so the local\n# steps run for each host, in its sandbox. Set "
	    "dstack_demo_sandbox per host in the inventory.\n" : "# How the playbook runs "
	    "(README.md). Written by dstack-wizard export ansible.\n", cause);
	free(path);
	if (rc != 0)
		return -1;
	ey_map(&y);
	/* Modules get their arguments (secrets on stdin among them) through a pipe, never a
	 * file on the host. */
	ey_kv_word(&y, "ansible_pipelining", "true");
	ey_kv_word(&y, "dstack_local_once", x->sandbox ? "false" : "true");
	if (x->sandbox != NULL)
		ey_kv_text(&y, "dstack_demo_sandbox", x->sandbox);
	ey_end_map(&y);
	return ey_close(&y, cause);
}

/* The value of input name in the profile (allocated), or NULL. */
static char *
ex_value(struct ex *x, const char *name)
{
	int idx = chain_input_index(x->c, name);
	struct input_value iv;
	char *v;

	if (idx < 0)
		return NULL;
	engine_input(x->e, (size_t)idx, &iv);
	v = iv.value;
	iv.value = NULL;
	input_value_clear(&iv);
	return v;
}

/* inventory.example.yml: the tdx_hosts group, with the profile's server. */
static int
ex_inventory(struct ex *x, char **cause)
{
	char *path = xprintf("%s/inventory.example.yml", x->dir);
	char *ip = ex_value(x, "server_ip"), *user = ex_value(x, "ssh_user");
	char *port = ex_value(x, "ssh_port");
	struct ey y;
	int rc;

	rc = ey_open(&y, path, "# Copy to inventory.yml and list your TDX hosts under tdx_hosts. "
	    "A host's own inputs\n# (dw_server_ip, dw_base_domain, ...) go with it; see "
	    "group_vars/all/dstack-inputs.yml.\n", cause);
	free(path);
	if (rc == 0) {
		ey_map(&y);
		ey_word(&y, "tdx_hosts");
		ey_map(&y);
		ey_word(&y, "hosts");
		ey_map(&y);
		ey_word(&y, "tdx1");
		ey_map(&y);
		ey_kv_text(&y, "ansible_host", ip && *ip ? ip : "192.0.2.10");
		ey_kv_text(&y, "ansible_user", user && *user ? user : "ubuntu");
		ey_word(&y, "ansible_port");
		ey_int(&y, port && *port ? strtol(port, NULL, 10) : 22);
		if (ip && *ip)
			ey_kv_text(&y, "dw_server_ip", ip);
		if (x->sandbox != NULL)
			ey_kv_text(&y, "dstack_demo_sandbox", x->sandbox);
		ey_end_map(&y);
		ey_end_map(&y);
		ey_end_map(&y);
		ey_end_map(&y);
		rc = ey_close(&y, cause);
	}
	free(ip);
	free(user);
	free(port);
	return rc;
}

static const char ex_cfg[] =
"# Run ansible-playbook from this directory, so that this file applies.\n"
"[defaults]\n"
"library = library\n"
"module_utils = module_utils\n"
"action_plugins = action_plugins\n"
"retry_files_enabled = False\n"
"interpreter_python = auto_silent\n"
"\n"
"[ssh_connection]\n"
"# Module arguments (a secret a command reads on stdin among them) go through a pipe,\n"
"# never into a file on the host.\n"
"pipelining = True\n";

/* The YAML style of the files (libyaml's emitter does not indent a list in a mapping; the
 * scripts keep the chain's lines), for yamllint and ansible-lint. */
static const char ex_yamllint[] =
"# Written by dstack-wizard export ansible: the style of its YAML files.\n"
"extends: default\n"
"rules:\n"
"  indentation:\n"
"    indent-sequences: consistent\n"
"  line-length: disable\n"
"  comments-indentation: disable\n";

/* ansible-lint: the chain's scripts are tagged !unsafe (never templated), but ansible-lint
 * 6 reads them as templates and reports bash's ${#x} as broken Jinja2. */
static const char ex_ansible_lint[] =
"# Written by dstack-wizard export ansible. The scripts from the chain are tagged !unsafe,\n"
"# so Ansible never templates them; ansible-lint does not see the tag and would report\n"
"# bash's ${#x} or {% as broken Jinja2.\n"
"skip_list:\n"
"  - jinja[invalid]\n";

/* README.md of the project. */
static int
ex_readme(struct ex *x, char **cause)
{
	struct strbuf sb = {0};
	int rc;

	sb_addf(&sb, "# %s: the Ansible project\n\n", x->c->title ? x->c->title : "The chain");
	sb_addf(&sb, "Written by `dstack-wizard export ansible` from its chain of steps, for "
	    "dstack %s: only the commands,\ncaptures and hints of that release are here. Do not "
	    "edit the step files; change the\nchain and export again (the files you add, "
	    "`inventory.yml` and `host_vars/`, stay).\n\n", x->version ? x->version : "(any)");
	sb_adds(&sb,
"```sh\n"
"cp inventory.example.yml inventory.yml        # your TDX hosts, under tdx_hosts\n"
"export DSTACK_WIZARD_PRIVATE_KEY=...          # the secrets, from the environment\n"
"ansible-playbook -i inventory.yml site.yml --skip-tags checklist\n"
"```\n\n"
"Run it from this directory (`ansible.cfg` turns pipelining on: module arguments go\n"
"through a pipe, never into a file on a host). `site.yml` has one play per section of the\n"
"chain, in order, and one task file per step under `steps/`. Every step is tagged with its\n"
"section and its id: `--tags kms` runs the KMS section, `--tags kms-cvm-deployment` one\n"
"step, `--limit HOST` one host.\n\n"
"## What a step does\n\n"
"1. Its inputs must be valid (set, one of its choices, matching its pattern).\n"
"2. Its check runs, read-only: every check command (`changed_when: false`,\n"
"   `failed_when: false`), then the verdict (the same as dstack-wizard's: every script\n"
"   exits 0 and matches its expected output, every probe holds).\n"
"3. Only when the check failed: a manual step shows its checklist (a pause, tagged\n"
"   `checklist`; skip it with `--skip-tags checklist` in unattended runs), then the action\n"
"   runs, command by command, stopping at the first failure; what it captures (contract\n"
"   addresses, app and VM ids) becomes the variables `dw_<name>` of the later steps and is\n"
"   kept in `host_vars/<host>/dstack-captured.yml` for the next runs.\n"
"4. The check runs again and must pass. A failure shows the step's known causes (hints).\n\n"
"So a second run changes nothing (`changed=0`), and `dstack-wizard check` agrees with the\n"
"playbook on what is done. Local steps (contracts, the wallet) run on the controller\n"
"(`delegate_to: localhost`), once for all hosts (`dstack_local_once`); a server step's\n"
"commands run on each host. Requirements between steps are kept by the order of the plays.\n\n"
"## Inputs and secrets\n\n"
"`group_vars/all/dstack-inputs.yml` holds the profile's inputs as `dw_<name>`; set a host's\n"
"own (`dw_server_ip`, `dw_base_domain`, ...) in the inventory. Secrets are never in a file of\n"
"this project: a task reads `DSTACK_WIZARD_<NAME>` from the environment of\n"
"ansible-playbook (as dstack-wizard does), or `dw_<name>` from a vault file of yours\n"
"(`ansible-vault create secrets.yml`, then `-e @secrets.yml --ask-vault-pass`). Every task\n"
"that uses one has `no_log: true`, gets it on its standard input (never in its environment\n"
"or command line), and the private key, a local-only input, is used only by tasks on\n"
"localhost.\n\n"
"Secrets of this chain:");
	for (size_t i = 0; i < x->c->ninputs; i++)
		if (x->c->inputs[i].secret)
			sb_addf(&sb, " `DSTACK_WIZARD_%s`%s", x->c->inputs[i].name,
			    x->c->inputs[i].scope == SCOPE_LOCAL ? " (local only)" : "");
	sb_adds(&sb, " (upper case).\n\n"
"## Files\n\n"
"- `library/dstack_probe.py`: the wizard's `http:`, `tcp:` and `rpc:` probes, with its JSON\n"
"  assertions (`module_utils/dstack_wizard.py`, also its regular expressions).\n"
"- `action_plugins/`: `dstack_inputs`, `dstack_verdict`, `dstack_capture`, `dstack_hints`,\n"
"  run on the controller.\n");
	if (x->sandbox != NULL)
		sb_adds(&sb, "\nThis is a `--demo` export: the plays carry the demo host's "
		    "environment, and every host is a\ndemo sandbox of its own "
		    "(`dstack_demo_sandbox`), so the local steps run for each host.\n");
	rc = ex_write(x, "README.md", sb_str(&sb), cause);
	sb_free(&sb);
	return rc;
}

/* Make dir ready: created, or an earlier export (whose step files go); else refused. */
static int
ex_prepare(struct ex *x, char **cause)
{
	char *marker = xprintf("%s/%s", x->dir, EXPORT_MARKER), *steps;
	struct dirent *de;
	bool empty = true;
	DIR *d;
	int rc = 0;

	if ((d = opendir(x->dir)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
				empty = false;
		closedir(d);
		if (!empty && access(marker, F_OK) != 0)
			rc = set_cause(cause, "%s holds files that are not an export of "
			    "dstack-wizard's: give an empty or a new directory", x->dir);
	} else if (errno != ENOENT)
		rc = set_cause(cause, "%s: %s", x->dir, strerror(errno));
	free(marker);
	if (rc != 0)
		return -1;
	steps = xprintf("%s/steps", x->dir);
	if ((d = opendir(steps)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (str_has_suffix(de->d_name, ".yml")) {
				char *p = xprintf("%s/%s", steps, de->d_name);

				unlink(p);
				free(p);
			}
		closedir(d);
	}
	free(steps);
	static const char *const dirs[] = { "", "/steps", "/group_vars/all", "/library",
	    "/module_utils", "/action_plugins" };
	for (size_t i = 0; i < nitems(dirs) && rc == 0; i++) {
		char *p = xprintf("%s%s", x->dir, dirs[i]);

		rc = mkdir_p(p, 0755, cause);
		free(p);
	}
	if (rc == 0)
		rc = ex_write(x, EXPORT_MARKER, "dstack-wizard export ansible\n", cause);
	return rc;
}

/* Export the chain as an Ansible project. */
int
export_ansible(struct engine *e, const char *dir, char **cause)
{
	struct ex x = { .e = e, .c = engine_chain(e) };
	int rc = 0;

	x.version = chain_input_index(x.c, VERSION_INPUT) >= 0 ? engine_version(e) : NULL;
	x.dir = xstrdup(dir);
	if (engine_demo(e) != NULL) {
		x.sandbox = xstrdup(demo_sandbox(engine_demo(e)));
		x.demo_env = demo_env(engine_demo(e), "");
	}
	for (size_t s = 0; s < x.c->nsteps && rc == 0; s++)
		rc = ex_check_step(&x, s, cause);
	if (rc == 0)
		rc = ex_prepare(&x, cause);
	for (size_t s = 0; s < x.c->nsteps && rc == 0; s++)
		rc = ex_step_file(&x, s, cause);
	if (rc == 0)
		rc = ex_site(&x, cause);
	if (rc == 0)
		rc = ex_inputs_file(&x, cause);
	if (rc == 0)
		rc = ex_settings(&x, cause);
	if (rc == 0)
		rc = ex_inventory(&x, cause);
	if (rc == 0)
		rc = ex_write(&x, "ansible.cfg", ex_cfg, cause);
	if (rc == 0)
		rc = ex_write(&x, ".yamllint", ex_yamllint, cause);
	if (rc == 0)
		rc = ex_write(&x, ".ansible-lint", ex_ansible_lint, cause);
	if (rc == 0)
		rc = ex_readme(&x, cause);
	for (size_t i = 0; i < nitems(export_assets) && rc == 0; i++)
		rc = ex_copy(&x, export_assets[i], cause);
	if (x.demo_env != NULL) {
		for (char **v = x.demo_env; *v != NULL; v++)
			free(*v);
		free(x.demo_env);
	}
	free(x.sandbox);
	free(x.version);
	free(x.dir);
	return rc;
}
