// Original file: proto/cluster.proto


export interface SessionSubscription {
  'filter'?: (string);
  'qos'?: (number);
  'no_local'?: (boolean);
  'retain_as_published'?: (boolean);
  'retain_handling'?: (number);
  'subscription_id'?: (number);
  '_subscription_id'?: "subscription_id";
}

export interface SessionSubscription__Output {
  'filter': (string);
  'qos': (number);
  'no_local': (boolean);
  'retain_as_published': (boolean);
  'retain_handling': (number);
  'subscription_id'?: (number);
  '_subscription_id'?: "subscription_id";
}
