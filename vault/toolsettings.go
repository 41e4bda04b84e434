package vault

import (
	"context"
	"slices"

	bolt "go.etcd.io/bbolt"
)

const (
	maxToolNameLen   = 256
	maxToolSettings  = 1024
	toolsFieldName   = "disabled tool"
	toolSetFieldName = "disabled tool set"
)

// cleanNames checks a list of tool or tool set names (non-empty text
// without control characters, at most 256 bytes each, at most 1024) and
// returns it sorted without duplicates (nil when empty).
func cleanNames(field string, names []string) ([]string, error) {
	if len(names) > maxToolSettings {
		return nil, invalidf("%ss: at most %d, got %d", field, maxToolSettings, len(names))
	}
	for _, n := range names {
		if err := validID(field, n, maxToolNameLen); err != nil {
			return nil, err
		}
	}
	out := slices.Clone(names)
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// GetToolSettings returns a tenant's tool settings (zero value if none;
// ErrNotFound if the tenant does not exist). The lists are sorted; an
// empty list is nil, so a tenant with nothing disabled gets exactly the
// zero value.
func (v *Vault) GetToolSettings(ctx context.Context, tenantID string) (ToolSettings, error) {
	if err := ctx.Err(); err != nil {
		return ToolSettings{}, err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return ToolSettings{}, err
	}
	var s ToolSettings
	err := v.db.View(func(tx *bolt.Tx) error {
		if _, err := getTenant(tx, tenantID); err != nil {
			return err
		}
		if _, err := getJSON(tx.Bucket(bucketToolSettings), []byte(tenantID), &s); err != nil {
			return err
		}
		var search toolSearchRecord
		_, err := getJSON(tx.Bucket(bucketToolSearch), []byte(tenantID), &search)
		s.SearchTools = search.Enabled
		return err
	})
	if err != nil {
		return ToolSettings{}, err
	}
	return s, nil
}

// PutToolSettings replaces a tenant's tool settings (ErrNotFound if the
// tenant does not exist). Each list is de-duplicated and sorted; names are
// non-empty, at most 256 bytes, without control characters, at most 1024
// per list (ErrInvalid). Subscribers are told (ToolSettingsChanged) before
// it returns.
func (v *Vault) PutToolSettings(ctx context.Context, tenantID string, s ToolSettings) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateTenantID(tenantID); err != nil {
		return err
	}
	var err error
	if s.DisabledTools, err = cleanNames(toolsFieldName, s.DisabledTools); err != nil {
		return err
	}
	if s.DisabledToolSets, err = cleanNames(toolSetFieldName, s.DisabledToolSets); err != nil {
		return err
	}
	return v.update(func(tx *bolt.Tx, announce func(Change)) error {
		if _, err := getTenant(tx, tenantID); err != nil {
			return err
		}
		announce(Change{Kind: ToolSettingsChanged, TenantID: tenantID})
		return putJSON(tx.Bucket(bucketToolSettings), []byte(tenantID), s)
	})
}
