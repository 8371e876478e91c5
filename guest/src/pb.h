/* The generated protobuf-c code, and shorthands for its long names. */
#ifndef A3S_PB_H
#define A3S_PB_H

#include "a3s/guest/v1/agent.pb-c.h"
#include "google/protobuf/any.pb-c.h"
#include "google/rpc/status.pb-c.h"
#include "ttrpc.pb-c.h"

/* proto3 `optional` fields are generated as synthetic oneofs named opt_<field> (see the Makefile). */
#define PB_HAS(msg, field) ((msg)->opt_##field##_case != 0)

#define ERROR_DETAIL_TYPE_URL "type.googleapis.com/a3s.guest.v1.ErrorDetail"
#define AGENT_SERVICE "a3s.guest.v1.Agent"

#endif
