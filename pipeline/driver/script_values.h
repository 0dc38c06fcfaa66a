/* script_values.h - what a config value must be before it reaches a batch
 * script, an sbatch argument or a command line (script_values.c). */
#ifndef SQ_DRIVER_SCRIPT_VALUES_H
#define SQ_DRIVER_SCRIPT_VALUES_H

#include <stdbool.h>

#include "config/yaml_tree.h"
#include "util/status.h"

/* Refuses a control character in any key or value of the run YAML (except
 * the free-text `description`), naming the dotted key and file:line:column. */
sq_status sq_config_refuse_control(const sq_yaml_node *root);
/* One folder name: [A-Za-z0-9._-], not starting with '.' or '-' (never "..").*/
bool sq_folder_name_valid(const char *name);
/* The config path holds no control character and the run name is one folder name. */
sq_status sq_plan_check_names(const char *config_path, const sq_yaml_node *root, const char *run_name);
/* A word for an "#SBATCH" line: every ASCII byte outside [A-Za-z0-9/._%+,=:@-]
 * backslash-escaped (sbatch's own parser), malloc'd. */
char *sq_sbatch_quote(const char *word);

#endif
