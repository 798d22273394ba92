package graph

import "context"

// migrateChannelUsers brings a graph written by an earlier version to the
// way a channel user id is kept now: on the VIA edge with the channel's
// project, kind and account beside it, so that the channel_user constraint
// keeps each id to one client (an earlier version checked it under the
// channel's lock, which made every write of a channel's clients wait for
// the others). It runs only while that constraint is missing, before the
// schema creates it, and can be cut short and run again.
func (s *Store) migrateChannelUsers(ctx context.Context) error {
	res, err := s.schemaQuery(ctx, `SHOW CONSTRAINTS YIELD name WHERE name = $name RETURN name`,
		map[string]any{"name": channelUserConstraint})
	if err != nil || len(res.Records) > 0 {
		return err
	}
	s.log.Info("moving channel user ids under their constraint", "constraint", channelUserConstraint)
	if err := s.autocommit(ctx, `MATCH (:Client)-[v:VIA]->(ch:Channel)
		WHERE v.channelUserId = '' OR v.channelUserId IS NOT NULL AND v.project IS NULL
		CALL {
			WITH v, ch
			FOREACH (_ IN CASE WHEN v.channelUserId = '' THEN [1] ELSE [] END | REMOVE v.channelUserId)
			FOREACH (_ IN CASE WHEN v.channelUserId <> '' THEN [1] ELSE [] END |
				SET v.project = ch.project, v.kind = ch.kind, v.account = ch.account)
		} IN TRANSACTIONS OF 10000 ROWS`, nil); err != nil {
		return err
	}
	_, err = s.schemaQuery(ctx, "DROP INDEX via_channel_user IF EXISTS", nil)
	return err
}
