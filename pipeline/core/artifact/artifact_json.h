/* artifact_json.h - an artifact's scalar attributes as one JSON line, for the
 * --json of the stages that have no summary of their own (calibrate).
 *
 * {"artifact": PATH, "<group>": {attr: value, ...}, "root": {...}}: strings,
 * integers and doubles; an attribute of another shape is left out. */
#ifndef SQ_ARTIFACT_ARTIFACT_JSON_H
#define SQ_ARTIFACT_ARTIFACT_JSON_H

#include "util/status.h"

/* *json is malloc'd, one line without a newline.  group may be NULL (root only). */
sq_status sq_artifact_attributes_json(const char *path, const char *group, char **json);

#endif
