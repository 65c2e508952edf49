/**
 * Serving part of a service: the methods a build of a server does not provide yet answer with gRPC
 * UNIMPLEMENTED (domain code `unimplemented`) naming the method, so a client learns at once that the
 * method exists in the contract but not on this server, instead of waiting for a timeout.
 */
import type { DescService } from "@bufbuild/protobuf";
import { RpcError } from "./rpc-error.js";
import type { ServiceImpl } from "./service-types.js";

/** Completes `given` to a full implementation of `service`; missing methods fail with `unimplemented`. */
export function withUnimplemented<S extends DescService>(
  service: S,
  given: Partial<ServiceImpl<S>>,
): ServiceImpl<S> {
  const impl: Record<string, unknown> = { ...given };
  for (const m of service.methods) {
    if (impl[m.localName] !== undefined) continue;
    const fail = () =>
      new RpcError("unimplemented", `${service.typeName}/${m.name} is not served by this server`);
    impl[m.localName] =
      m.methodKind === "unary" || m.methodKind === "client_streaming"
        ? async () => {
            throw fail();
          }
        : // biome-ignore lint/correctness/useYield: fails before yielding
          async function* () {
            throw fail();
          };
  }
  return impl as ServiceImpl<S>;
}
