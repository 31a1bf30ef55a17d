/* tpp/linktype_names.h — link types as a user knows them, for messages (linktype_names.c). */
#ifndef TPP_LINKTYPE_NAMES_H
#define TPP_LINKTYPE_NAMES_H

#include <stddef.h>

/* A link type for messages: "802.11 radiotap (127)", "user 0 (147)", or the bare number for one without a name. */
void tpp_linktype_describe(int linktype, char *buf, size_t len);

#endif
