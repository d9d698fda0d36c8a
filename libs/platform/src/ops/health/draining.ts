import { Injectable } from '@nestjs/common';

/** Set on SIGTERM: readiness turns 503 so the load balancer stops sending new requests. */
@Injectable()
export class Draining {
  active = false;
}
