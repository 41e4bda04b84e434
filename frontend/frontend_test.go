package frontend

import (
	"io/fs"
	"strings"
	"testing"
)

func TestStaticAssets(t *testing.T) {
	for _, name := range []string{"app.css", "app.js", "icon.svg"} {
		if b, err := fs.ReadFile(Static(), name); err != nil || len(b) == 0 {
			t.Errorf("static %s: %v", name, err)
		}
	}
	if v := AssetVersion(); len(v) != 12 || v != AssetVersion() {
		t.Errorf("AssetVersion %q: want a stable 12-character hash", v)
	}
	css, _ := fs.ReadFile(Static(), "app.css")
	for _, want := range []string{"prefers-color-scheme: dark", ":focus-visible", "max-width: 960px", "system-ui"} {
		if !strings.Contains(string(css), want) {
			t.Errorf("app.css lacks %q", want)
		}
	}
}

func TestFormField(t *testing.T) {
	var b strings.Builder
	err := FormField(Field{Name: "entity_id", Label: "ID", Value: `a"b<c`, Help: "Lowercase.", Error: "Use lowercase."}).Render(t.Context(), &b)
	if err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{
		`<label for="f-entity_id">ID</label>`, `id="f-entity_id"`, `value="a&#34;b&lt;c"`, `aria-invalid="true"`,
		`aria-describedby="f-entity_id-help f-entity_id-error"`, `id="f-entity_id-error"`, "Use lowercase.", "Lowercase.",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("field lacks %s:\n%s", want, html)
		}
	}
	if strings.Index(html, "Use lowercase.") > strings.Index(html, "Lowercase.</p>") {
		t.Error("the error is not right under the field")
	}
	b.Reset()
	_ = FormField(Field{Name: "name", Label: "Name"}).Render(t.Context(), &b)
	if strings.Contains(b.String(), "aria-invalid") || strings.Contains(b.String(), "aria-describedby") {
		t.Errorf("a field without error or help: %s", b.String())
	}
}

func TestDangerZoneAndEmptyState(t *testing.T) {
	var b strings.Builder
	err := DangerZoneBox(DangerZone{Title: "Delete", Text: "Gone.", Post: "/ui/tenants/acme/delete", Confirm: "acme",
		Button: "Delete tenant acme", Value: "acm", Error: "That is not acme."}, "TOKEN").Render(t.Context(), &b)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Danger zone", `action="/ui/tenants/acme/delete"`, `name="csrf" value="TOKEN"`,
		"Type acme to confirm", `value="acm"`, "That is not acme.", "Delete tenant acme"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("danger zone lacks %s", want)
		}
	}
	b.Reset()
	err = EmptyState("tenants", "Nothing yet.", "Make one.", &Action{Label: "Create", Post: "/ui/tenants",
		Fields: map[string]string{"name": "Personal"}}, "TOKEN").Render(t.Context(), &b)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Nothing yet.", "Make one.", `method="post"`, `name="csrf" value="TOKEN"`, `name="name" value="Personal"`, "btn-primary"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("empty state lacks %s", want)
		}
	}
}

func TestIconsAreDecorative(t *testing.T) {
	for _, it := range NavItems() {
		var b strings.Builder
		if err := Icon(string(it.ID)).Render(t.Context(), &b); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), "<svg") || !strings.Contains(b.String(), `aria-hidden="true"`) || strings.Contains(b.String(), "style=") {
			t.Errorf("icon %s: %s", it.ID, b.String())
		}
	}
}
