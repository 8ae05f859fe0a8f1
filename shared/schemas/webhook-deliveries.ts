import { z } from 'zod';
import { idSchema, pageQuerySchema } from './keys';

/** The delivery side of webhooks on the wire: path parameters and the page query (views in views.ts). */

export const webhookDeliveryParams = z.object({ id: idSchema('we'), deliveryId: idSchema('dlv') });
export const webhookDeliveriesQuery = pageQuerySchema;
