/*
 * export.h: the chain handed to other tools. `export ansible DIR` writes a self-contained
 * Ansible project: one play per section (site.yml, in chain order), one task file per step
 * (its check first, read-only; its action only when the check fails; then the check again,
 * which must pass), the profile's non-secret inputs as variables, and the wizard's probes,
 * verdicts and captures as a module and action plugins with the wizard's meaning
 * (assets/ansible/). Secrets never reach a file: the playbook reads them from the
 * environment (DSTACK_WIZARD_<NAME>) or a vault file of the operator's.
 */
#ifndef DW_EXPORT_H
#define DW_EXPORT_H

struct engine;

/*
 * Write the project for the release in use into dir (created when missing; a directory
 * that holds something else than an earlier export is refused). Refused, -1 with *cause,
 * when a command that would run on a server refers to a local-scoped input (the loader's
 * rule, checked again here on where each task will run), or when a step requires a step
 * that comes after it (the play order keeps requires: order).
 */
int export_ansible(struct engine *e, const char *dir, char **cause);

#endif
