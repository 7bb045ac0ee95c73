/* schema.h: the database schema's migrations (schema.c), for the SQLite store alone. */
#ifndef UVCHAT_SCHEMA_H
#define UVCHAT_SCHEMA_H

/* uvc_schema_migrations[n - 1] takes the schema from version n - 1 to n; there are
 * UVC_STORE_SCHEMA of them. Each is one or more SQL statements separated by ';'. */
extern const char* const uvc_schema_migrations[];

#endif
