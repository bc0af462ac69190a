// Errors raised by the routing layer. They signal caller bugs (input that should have been
// validated, re-entrant use), never client behaviour: a client's bad filter becomes a reason code
// at the SUBSCRIBE handler, before the router is reached.

export class InvalidTopicFilterError extends Error {
  override readonly name = 'InvalidTopicFilterError';
  readonly code = 'SHOAL_INVALID_TOPIC_FILTER';

  constructor(
    readonly filter: string,
    readonly reason: string,
  ) {
    super(`invalid topic filter ${JSON.stringify(filter)}: ${reason}`);
  }
}

export class ReentrantMatchError extends Error {
  override readonly name = 'ReentrantMatchError';
  readonly code = 'SHOAL_REENTRANT_MATCH';

  constructor(readonly topic: string) {
    super(
      `routing table used from inside a match visitor (at ${JSON.stringify(topic)}); ` +
        'match() reuses scratch state and walks live nodes, so it must not be re-entered',
    );
  }
}
