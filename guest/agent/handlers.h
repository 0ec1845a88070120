/* The handlers of the host's messages (docs/protocol.md). */
#ifndef AEGIS_HANDLERS_H
#define AEGIS_HANDLERS_H

#include "agent.h"
#include "frame.h"

/* A frame_handler: context is the struct agent. */
void handle_frame(void *context, const struct frame_header *h,
		  const uint8_t *payload);

#endif
