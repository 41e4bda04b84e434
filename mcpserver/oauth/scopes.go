package oauth

import "slices"

// scopeText says, for a person who never heard of OAuth, what a preset's
// scope lets Plexus do ("It will be able to: …").
var scopeText = map[string]map[string]string{
	"github": {
		"repo":             "read and change all your repositories, public and private",
		"public_repo":      "read and change your public repositories",
		"repo:status":      "read and set the status of your commits",
		"read:user":        "read your profile information",
		"user":             "read and change your profile information",
		"user:email":       "read your email addresses",
		"read:org":         "see your organizations and teams",
		"gist":             "create and change your gists",
		"notifications":    "read your notifications",
		"workflow":         "change your GitHub Actions workflows",
		"read:packages":    "download your packages",
		"write:discussion": "read and write team discussions",
	},
	"google": {
		"openid":  "confirm who you are",
		"email":   "see your email address",
		"profile": "see your name and profile picture",
		"https://www.googleapis.com/auth/gmail.readonly":    "read your email",
		"https://www.googleapis.com/auth/gmail.send":        "send email as you",
		"https://www.googleapis.com/auth/calendar.readonly": "see your calendars",
		"https://www.googleapis.com/auth/calendar":          "see and change your calendars",
		"https://www.googleapis.com/auth/drive.readonly":    "see and download your Google Drive files",
		"https://www.googleapis.com/auth/drive":             "see, change and delete your Google Drive files",
	},
	"slack": {
		"users:read":       "see the people in your workspace",
		"users:read.email": "see the email addresses of the people in your workspace",
		"channels:read":    "see your public channels",
		"channels:history": "read messages in your public channels",
		"groups:history":   "read messages in your private channels",
		"im:history":       "read your direct messages",
		"chat:write":       "send messages as you",
		"search:read":      "search your workspace",
	},
	"microsoft": {
		"openid":         "confirm who you are",
		"profile":        "see your name",
		"email":          "see your email address",
		"offline_access": "keep this access while you are away (until you disconnect)",
		"User.Read":      "read your profile",
		"Mail.Read":      "read your email",
		"Mail.Send":      "send email as you",
		"Calendars.Read": "see your calendars",
		"Files.Read":     "see your files",
	},
}

// describeScopes turns scopes into sentences for the consent page; a scope
// without a description is shown by name.
func describeScopes(preset string, scopes []string) []string {
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		d, ok := scopeText[preset][s]
		if !ok {
			d = "use the permission “" + s + "”"
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}
