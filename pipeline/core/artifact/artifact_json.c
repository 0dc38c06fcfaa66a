/* artifact_json.c - an artifact's scalar attributes as JSON (artifact_json.h). */
#include "artifact/artifact_json.h"

#include <hdf5.h>
#include <jansson.h>
#include <stdlib.h>

#include "artifact/artifact.h"

/* H5Aiterate2 callback: one scalar attribute into the JSON object. */
static herr_t add_attribute(hid_t location, const char *name, const H5A_info_t *info, void *data)
{
    json_t *object = data;
    hid_t attr = H5Aopen(location, name, H5P_DEFAULT), type = -1, space = -1;
    (void)info;
    if (attr < 0)
        return 0;
    type = H5Aget_type(attr);
    space = H5Aget_space(attr);
    if (type >= 0 && space >= 0 && H5Sget_simple_extent_npoints(space) == 1) {
        H5T_class_t kind = H5Tget_class(type);
        if (kind == H5T_STRING) {
            char *text = NULL;
            if (sq_h5_read_attr_string(location, name, &text) == SQ_OK && text)
                json_object_set_new(object, name, json_string(text));
            free(text);
        } else if (kind == H5T_INTEGER) {
            int64_t value;
            if (sq_h5_read_attr_int(location, name, &value) == SQ_OK)
                json_object_set_new(object, name, json_integer((json_int_t)value));
        } else if (kind == H5T_FLOAT) {
            double value;
            if (sq_h5_read_attr_double(location, name, &value) == SQ_OK)
                json_object_set_new(object, name, json_real(value));
        }
    }
    sq_h5_close(space);
    sq_h5_close(type);
    sq_h5_close(attr);
    return 0;
}

sq_status sq_artifact_attributes_json(const char *path, const char *group, char **json)
{
    sq_status st = SQ_OK;
    hid_t file = -1, g = -1;
    json_t *root = json_object(), *top = json_object(), *inner = json_object();
    hsize_t index = 0;
    *json = NULL;
    SQ_TRY(sq_artifact_open(path, NULL, &file));
    json_object_set_new(root, "artifact", json_string(path));
    H5Aiterate2(file, H5_INDEX_NAME, H5_ITER_INC, &index, add_attribute, top);
    if (group && sq_h5_exists(file, group) && (g = H5Gopen2(file, group, H5P_DEFAULT)) >= 0) {
        index = 0;
        H5Aiterate2(g, H5_INDEX_NAME, H5_ITER_INC, &index, add_attribute, inner);
        json_object_set(root, group, inner);
    }
    json_object_set(root, "root", top);
    *json = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17));
    if (*json == NULL)
        SQ_FAIL(SQ_ERR_RUN, "cannot format the attributes of %s as JSON", path);
cleanup:
    json_decref(root);
    json_decref(top);
    json_decref(inner);
    sq_h5_close(g);
    sq_h5_close(file);
    return st;
}
