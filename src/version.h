/* version.h — the program's name and version, for the host's messages, `tpp.version` and dump headers. */
#ifndef TPP_VERSION_H
#define TPP_VERSION_H

#define PROGNAME "tpp"
#define TPP_VERSION "0.1.0"

#endif
