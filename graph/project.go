package graph

import (
	"context"
	"sort"
	"time"

	"github.com/neo4j/neo4j-go-driver/v5/neo4j"

	"github.com/multicontact/multicontact/identity"
)

// projectState is what every write needs to know about its project.
type projectState struct {
	identity.Project
	catalog *identity.Catalog
	rules   []identity.Rule // all rules, sorted by id
	// version counts the changes of the above (configVersion): a store
	// keeps the last state it read and reads it again when this moved.
	version int64
}

// activeRules are the rules that link clients now.
func (p *projectState) activeRules() []identity.Rule {
	var out []identity.Rule
	for _, r := range p.rules {
		if r.Enabled {
			out = append(out, r)
		}
	}
	return out
}

const projectFields = `p.id AS id, p.name AS name, p.region AS region, p.keyCap AS keyCap,
	p.valueCap AS valueCap, p.createdAt AS createdAt, p.resolution AS resolution, p.progress AS progress,
	coalesce(p.acceptUnverifiedWidgetValues, false) AS acceptUnverifiedWidgetValues,
	coalesce(p.locale, '` + identity.DefaultLocale + `') AS locale`

func decodeProject(rec *neo4j.Record) identity.Project {
	return identity.Project{
		ID:        str(rec, "id"),
		Name:      str(rec, "name"),
		Region:    str(rec, "region"),
		KeyCap:    int(i64(rec, "keyCap")),
		ValueCap:  int(i64(rec, "valueCap")),
		CreatedAt: when(rec, "createdAt"),
		Resolution: identity.Resolution{
			State:    identity.ResolutionState(str(rec, "resolution")),
			Progress: f64(rec, "progress"),
		},
		AcceptUnverifiedWidgetValues: boolean(rec, "acceptUnverifiedWidgetValues"),
		Locale:                       str(rec, "locale"),
	}
}

// acceptsUnverifiedWidgetValues reads the project's switch that lets
// unverified widget values link (identity.LinkingValues).
func (s *Store) acceptsUnverifiedWidgetValues(ctx context.Context, project string) (bool, error) {
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) (bool, error) {
		rec, err := single(ctx, tx, `MATCH (p:Project {id: $id})
			RETURN coalesce(p.acceptUnverifiedWidgetValues, false) AS accept`, map[string]any{"id": project})
		if err != nil || rec == nil {
			return false, orNotFound(err, "project", project)
		}
		return boolean(rec, "accept"), nil
	})
}

// loadProject reads a project with its fields and rules inside tx.
func loadProject(ctx context.Context, tx neo4j.ManagedTransaction, id string) (*projectState, error) {
	rec, err := single(ctx, tx, `MATCH (p:Project {id: $id}) RETURN `+projectFields+`, coalesce(p.configVersion, 0) AS configVersion,
		COLLECT { MATCH (f:Field {project: $id}) RETURN {key: f.key, label: f.label, type: f.type} } AS fields,
		COLLECT { MATCH (r:Rule {project: $id}) WHERE NOT coalesce(r.removed, false)
			RETURN {id: r.id, name: r.name, fields: r.fields, enabled: r.enabled, requireVerified: r.requireVerified} } AS rules`,
		map[string]any{"id": id})
	if err != nil {
		return nil, err
	}
	if rec == nil {
		return nil, notFound("project", id)
	}
	p := &projectState{Project: decodeProject(rec), version: i64(rec, "configVersion")}
	var custom []identity.Field
	for _, f := range list(rec, "fields") {
		m, _ := f.(map[string]any)
		custom = append(custom, identity.Field{Key: mapStr(m, "key"), Label: mapStr(m, "label"), Type: identity.FieldType(mapStr(m, "type"))})
	}
	if p.catalog, err = identity.NewCatalog(p.Region, custom); err != nil {
		return nil, err
	}
	for _, r := range list(rec, "rules") {
		m, _ := r.(map[string]any)
		p.rules = append(p.rules, decodeRule(m))
	}
	sort.Slice(p.rules, func(i, j int) bool { return p.rules[i].ID < p.rules[j].ID })
	return p, nil
}

// lastConfig is the project's configuration as this store read it last,
// or nil: it may be stale, so a statement that relies on it checks its
// version.
func (s *Store) lastConfig(project string) *projectState {
	if v, ok := s.configs.Load(project); ok {
		return v.(*projectState)
	}
	return nil
}

// readConfig reads the project's configuration, and keeps it as the last.
func (s *Store) readConfig(ctx context.Context, project string) (*projectState, error) {
	ps, err := readTx(ctx, s, func(tx neo4j.ManagedTransaction) (*projectState, error) { return loadProject(ctx, tx, project) })
	if err == nil {
		s.configs.Store(project, ps)
	}
	return ps, err
}

// projectAt returns the project's configuration at version (as lockClients
// read it): the state this store read last if it is that version, else
// read again, in tx. A configuration changes only with its version.
func (s *Store) projectAt(ctx context.Context, tx neo4j.ManagedTransaction, project string, version int64) (*projectState, error) {
	if ps := s.lastConfig(project); ps != nil && ps.version == version {
		return ps, nil
	}
	ps, err := loadProject(ctx, tx, project)
	if err == nil {
		s.configs.Store(project, ps)
	}
	return ps, err
}

func decodeRule(m map[string]any) identity.Rule {
	return identity.Rule{ID: mapStr(m, "id"), Name: mapStr(m, "name"), Fields: mapStrs(m, "fields"),
		Enabled: mapBool(m, "enabled"), RequireVerified: mapBool(m, "requireVerified")}
}

// CreateProject creates a project; its id must be new.
func (s *Store) CreateProject(ctx context.Context, id, name, region string) (identity.Project, error) {
	p, err := identity.NewProject(id, name, region)
	if err != nil {
		return identity.Project{}, err
	}
	p.CreatedAt = s.now().UTC().Truncate(time.Millisecond)
	p.Resolution.State = identity.ResolutionIdle
	return writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (identity.Project, error) {
		rec, err := single(ctx, tx, `MERGE (p:Project {id: $id})
			ON CREATE SET p.name = $name, p.region = $region, p.keyCap = $keyCap, p.valueCap = $valueCap,
				p.createdAt = $at, p.resolution = 'IDLE', p.progress = 1.0, p.seq = 0, p.created = true,
				p.acceptUnverifiedWidgetValues = false, p.locale = $locale
			WITH p, coalesce(p.created, false) AS created REMOVE p.created
			RETURN created`,
			map[string]any{"id": p.ID, "name": p.Name, "region": p.Region, "keyCap": p.KeyCap, "valueCap": p.ValueCap, "at": p.CreatedAt,
				"locale": p.Locale})
		if err != nil {
			return identity.Project{}, err
		}
		if !boolean(rec, "created") {
			return identity.Project{}, identity.Errorf("id", identity.CodeConflict, "project %q already exists", id)
		}
		return p, nil
	})
}

// Project returns a project, or a NOT_FOUND error.
func (s *Store) Project(ctx context.Context, id string) (identity.Project, error) {
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) (identity.Project, error) {
		rec, err := single(ctx, tx, `MATCH (p:Project {id: $id}) RETURN `+projectFields, map[string]any{"id": id})
		if err != nil || rec == nil {
			return identity.Project{}, orNotFound(err, "project", id)
		}
		return decodeProject(rec), nil
	})
}

// UpdateProjectSettings changes a project's name, region, caps or whether
// unverified widget values link. A changed cap re-resolves the project in the
// background (see Reresolve); a changed widget switch rebuilds every rule's
// keys first, as it changes which values yield keys.
func (s *Store) UpdateProjectSettings(ctx context.Context, id string, set identity.Settings) (identity.Project, error) {
	defer s.kick(id)
	return writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (identity.Project, error) {
		ps, err := loadProject(ctx, tx, id)
		if err != nil {
			return identity.Project{}, err
		}
		p := ps.Project
		if err := p.Apply(set); err != nil {
			return identity.Project{}, err
		}
		// The region changes how phones normalize from now on; stored values stay.
		rerun := p.KeyCap != ps.KeyCap || p.ValueCap != ps.ValueCap
		rekey := p.AcceptUnverifiedWidgetValues != ps.AcceptUnverifiedWidgetValues
		rec, err := single(ctx, tx, `MATCH (p:Project {id: $id})
			SET p.name = $name, p.region = $region, p.keyCap = $keyCap, p.valueCap = $valueCap,
				p.acceptUnverifiedWidgetValues = $acceptWidget, p.locale = $locale,
				p.configVersion = coalesce(p.configVersion, 0) + 1
			FOREACH (_ IN CASE WHEN $rerun THEN [1] ELSE [] END |
				SET p.resolution = 'RUNNING', p.progress = 0.0, p.recheckKeys = true, p.generation = coalesce(p.generation, 0) + 1)
			FOREACH (_ IN CASE WHEN $rekey AND NOT $rerun THEN [1] ELSE [] END |
				SET p.resolution = 'RUNNING', p.progress = 0.0, p.generation = coalesce(p.generation, 0) + 1)
			FOREACH (_ IN CASE WHEN $rekey THEN [1] ELSE [] END |
				SET p.changedRules = coalesce(p.changedRules, []) + $everyRule)
			WITH p
			CALL {
				WITH p
				MATCH (r:Rule {project: $id}) WHERE $rekey AND NOT coalesce(r.removed, false)
				SET r.stale = true, r.staleAt = p.configVersion
				RETURN count(r) AS rules
			}
			RETURN `+projectFields,
			map[string]any{"id": id, "name": p.Name, "region": p.Region, "keyCap": p.KeyCap, "valueCap": p.ValueCap,
				"acceptWidget": p.AcceptUnverifiedWidgetValues, "rerun": rerun, "rekey": rekey, "locale": p.Locale, "everyRule": everyRule})
		if err != nil {
			return identity.Project{}, err
		}
		return decodeProject(rec), nil
	})
}

// Fields returns the project's fields: built-ins first, then its own.
func (s *Store) Fields(ctx context.Context, project string) ([]identity.Field, error) {
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]identity.Field, error) {
		ps, err := loadProject(ctx, tx, project)
		if err != nil {
			return nil, err
		}
		return ps.catalog.Fields(), nil
	})
}

// DefineField adds a custom field to a project. Its key is fixed once defined.
func (s *Store) DefineField(ctx context.Context, project, key, label string, t identity.FieldType) (identity.Field, error) {
	f, err := identity.NewField(key, label, t)
	if err != nil {
		return identity.Field{}, err
	}
	return writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (identity.Field, error) {
		if _, err := loadProject(ctx, tx, project); err != nil {
			return identity.Field{}, err
		}
		rec, err := single(ctx, tx, `MERGE (f:Field {project: $project, key: $key})
			ON CREATE SET f.label = $label, f.type = $type, f.created = true
			WITH f, coalesce(f.created, false) AS created REMOVE f.created
			WITH created
			MATCH (p:Project {id: $project})
			SET p.configVersion = coalesce(p.configVersion, 0) + CASE WHEN created THEN 1 ELSE 0 END
			RETURN created`,
			map[string]any{"project": project, "key": f.Key, "label": f.Label, "type": string(f.Type)})
		if err != nil {
			return identity.Field{}, err
		}
		if !boolean(rec, "created") {
			return identity.Field{}, identity.Errorf("key", identity.CodeFieldExists, "field %q already exists", key)
		}
		return f, nil
	})
}

// Rules returns the project's rules, sorted by id.
func (s *Store) Rules(ctx context.Context, project string) ([]identity.Rule, error) {
	return readTx(ctx, s, func(tx neo4j.ManagedTransaction) ([]identity.Rule, error) {
		ps, err := loadProject(ctx, tx, project)
		if err != nil {
			return nil, err
		}
		return ps.rules, nil
	})
}

// AddRule adds a rule. The project's match keys for it are built, and the
// project re-resolved, in the background: its state is RUNNING until then.
func (s *Store) AddRule(ctx context.Context, project string, r identity.Rule) (identity.Rule, error) {
	r.ID = newID("rule")
	return s.saveRule(ctx, project, r, true)
}

// UpdateRule replaces a rule's name, fields and switches, and re-resolves.
func (s *Store) UpdateRule(ctx context.Context, project string, r identity.Rule) (identity.Rule, error) {
	return s.saveRule(ctx, project, r, false)
}

func (s *Store) saveRule(ctx context.Context, project string, r identity.Rule, create bool) (identity.Rule, error) {
	defer s.kick(project)
	return writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (identity.Rule, error) {
		ps, err := loadProject(ctx, tx, project)
		if err != nil {
			return identity.Rule{}, err
		}
		r := r.Canonical()
		if err := r.Validate(ps.catalog); err != nil {
			return identity.Rule{}, err
		}
		old, found := ruleByID(ps.rules, r.ID)
		if !create && !found {
			return identity.Rule{}, notFound("rule", r.ID)
		}
		if create && len(ps.rules) >= identity.MaxRules {
			return identity.Rule{}, identity.Errorf("rules", identity.CodeTooManyRules,
				"a project has at most %d rules; remove one first", identity.MaxRules)
		}
		// A new name links nobody else: only a change of what the rule
		// links rebuilds its keys and re-resolves the project.
		relink := create || !old.LinksLike(r)
		err = exec(ctx, tx, `MATCH (p:Project {id: $project})
			MERGE (r:Rule {project: $project, id: $id})
			ON CREATE SET r.createdAt = $at
			SET r.name = $name, r.fields = $fields, r.enabled = $enabled, r.requireVerified = $requireVerified,
				r.removed = false, p.configVersion = coalesce(p.configVersion, 0) + 1
			FOREACH (_ IN CASE WHEN $relink THEN [1] ELSE [] END |
				SET r.stale = true, r.staleAt = p.configVersion, p.changedRules = coalesce(p.changedRules, []) + r.id,
					p.resolution = 'RUNNING', p.progress = 0.0, p.generation = coalesce(p.generation, 0) + 1)`,
			map[string]any{"project": project, "id": r.ID, "name": r.Name, "fields": r.Fields, "relink": relink,
				"enabled": r.Enabled, "requireVerified": r.RequireVerified, "at": s.now().UTC()})
		return r, err
	})
}

// RemoveRule removes a rule; its links go away as the project re-resolves.
func (s *Store) RemoveRule(ctx context.Context, project, ruleID string) error {
	defer s.kick(project)
	_, err := writeTx(ctx, s, func(tx neo4j.ManagedTransaction) (noResult, error) {
		ps, err := loadProject(ctx, tx, project)
		if err != nil {
			return noResult{}, err
		}
		if _, ok := ruleByID(ps.rules, ruleID); !ok {
			return noResult{}, notFound("rule", ruleID)
		}
		return noResult{}, exec(ctx, tx, `MATCH (p:Project {id: $project}), (r:Rule {project: $project, id: $id})
			SET r.removed = true, r.stale = true, p.configVersion = coalesce(p.configVersion, 0) + 1,
				p.changedRules = coalesce(p.changedRules, []) + r.id,
				p.resolution = 'RUNNING', p.progress = 0.0, p.generation = coalesce(p.generation, 0) + 1
			SET r.staleAt = p.configVersion`,
			map[string]any{"project": project, "id": ruleID})
	})
	return err
}

func ruleByID(rules []identity.Rule, id string) (identity.Rule, bool) {
	for _, r := range rules {
		if r.ID == id {
			return r, true
		}
	}
	return identity.Rule{}, false
}

func orNotFound(err error, what, id string) error {
	if err != nil {
		return err
	}
	return notFound(what, id)
}
