import type { HttpHandler, InvocationContext, Timer } from '@azure/functions';
import { withApiKey } from '../middleware/api-key';
import { withCustomerAccess, withStaff } from '../middleware/portal-auth';
import { withErrorBoundary, type ServiceProvider } from '../middleware/error-boundary';
import { describeError, invocationLogger } from '../shared/logging';
import type { HttpFunctionDefinition, TimerFunctionDefinition } from './definitions';

/**
 * Turns a declared HTTP function into the handler the Functions host (or the local host)
 * calls: the error boundary outside, then the door its `auth` names, then the handler.
 */
export function bindHttpFunction(definition: HttpFunctionDefinition, getServices: ServiceProvider): HttpHandler {
  const boundary = withErrorBoundary(getServices);
  switch (definition.auth) {
    case 'anonymous':
      return boundary(definition.handler);
    case 'apiKey':
      return boundary(withApiKey(definition.keyTypes ? { keyTypes: definition.keyTypes } : {})(definition.handler));
    case 'customer':
      return boundary(withCustomerAccess()(definition.handler));
    case 'staff':
      return boundary(withStaff()(definition.handler));
  }
}

/** Turns a declared timer function into its host handler; failures are logged and rethrown. */
export function bindTimerFunction(definition: TimerFunctionDefinition, getServices: ServiceProvider) {
  return async function timerHandler(timer: Timer, invocation: InvocationContext): Promise<void> {
    const log = invocationLogger(invocation);
    try {
      await definition.handler(timer, { services: await getServices(), invocation, log });
    } catch (error) {
      log.error('timer function failed', { function: definition.name, ...describeError(error) });
      throw error;
    }
  };
}
