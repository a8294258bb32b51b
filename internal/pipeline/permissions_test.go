package pipeline

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// row is one line of terraform/README.md's permissions table.
type row struct {
	account, role, on, neededBy string
}

func permissionsTable(t *testing.T) []row {
	t.Helper()
	raw, err := os.ReadFile("../../terraform/README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	i, j := strings.Index(s, "<!-- permissions:begin -->"), strings.Index(s, "<!-- permissions:end -->")
	if i < 0 || j < i {
		t.Fatal("terraform/README.md has no <!-- permissions:begin --> ... <!-- permissions:end --> table")
	}
	var rows []row
	for _, line := range strings.Split(s[i:j], "\n") {
		cells := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(cells) != 4 || !strings.Contains(cells[1], "roles/") {
			continue
		}
		for k := range cells {
			cells[k] = strings.TrimSpace(cells[k])
		}
		rows = append(rows, row{cells[0], strings.Trim(cells[1], "`"), cells[2], cells[3]})
	}
	if len(rows) == 0 {
		t.Fatal("the permissions table has no row")
	}
	return rows
}

type grant struct{ Account, Role, On string }

func bootstrapGrants(t *testing.T) []grant {
	t.Helper()
	raw, err := os.ReadFile("../../terraform/bootstrap/grants.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Grants []grant }
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("grants.json: %v", err)
	}
	if len(f.Grants) == 0 {
		t.Fatal("grants.json grants nothing")
	}
	return f.Grants
}

var (
	roleLiteral  = regexp.MustCompile(`"roles/[A-Za-z0-9_.]+"`)
	resourceType = regexp.MustCompile(`(?m)^(resource|ephemeral|data) "([a-z0-9_]+)"`)
	namedType    = regexp.MustCompile("`(google_[a-z0-9_]+)`")
)

// hcl is every .tf file of a module directory, by name.
func hcl(t *testing.T, dir string) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no .tf files in %s (%v)", dir, err)
	}
	out := map[string]string{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(f)] = string(raw)
	}
	return out
}

// needs is the IAM permission the pipeline's apply of each resource type
// takes (create, refresh, update, delete share the prefix), and actAs where
// the resource runs as another account. From Google's IAM permissions
// reference for each API.
var needs = map[string][]string{
	"google_cloud_run_v2_job":                 {"run.jobs.", "iam.serviceAccounts.actAs"},
	"google_cloud_run_v2_job_iam_member":      {"run.jobs.setIamPolicy"},
	"google_cloud_scheduler_job":              {"cloudscheduler.jobs.", "iam.serviceAccounts.actAs"},
	"google_monitoring_metric_descriptor":     {"monitoring.metricDescriptors."},
	"google_monitoring_alert_policy":          {"monitoring.alertPolicies."},
	"google_monitoring_notification_channel":  {"monitoring.notificationChannels."},
	"google_monitoring_dashboard":             {"monitoring.dashboards."},
	"google_monitoring_custom_service":        {"monitoring.services."},
	"google_monitoring_slo":                   {"monitoring.slos."},
	"google_logging_metric":                   {"logging.logMetrics."},
	"google_secret_manager_secret_version":    {"secretmanager.versions.access"},
	"google_cloud_run_v2_service":             {"run.services.", "iam.serviceAccounts.actAs"},
	"google_monitoring_uptime_check_config":   {"monitoring.uptimeCheckConfigs."},
	"google_logging_project_sink":             {"logging.sinks."},
	"google_cloud_scheduler_job_iam_member":   {"cloudscheduler.jobs.setIamPolicy"},
	"google_monitoring_group":                 {"monitoring.groups."},
	"google_monitoring_monitored_project":     {"monitoring.monitoredProjects."},
	"google_cloud_run_v2_job_iam_binding":     {"run.jobs.setIamPolicy"},
	"google_secret_manager_secret_iam_member": {"secretmanager.secrets.setIamPolicy"},
}

// includes is what each role the table may name holds, as permission
// prefixes (Google's predefined roles reference). A role missing here
// cannot justify a resource type.
var includes = map[string][]string{
	"roles/run.admin":                    {"run."},
	"roles/cloudscheduler.admin":         {"cloudscheduler."},
	"roles/monitoring.editor":            {"monitoring.alertPolicies.", "monitoring.dashboards.", "monitoring.metricDescriptors.", "monitoring.notificationChannels.", "monitoring.services.", "monitoring.slos.", "monitoring.groups.", "monitoring.uptimeCheckConfigs.", "monitoring.timeSeries."},
	"roles/logging.configWriter":         {"logging.logMetrics.", "logging.sinks.", "logging.exclusions.", "logging.buckets.", "logging.views."},
	"roles/iam.serviceAccountUser":       {"iam.serviceAccounts.actAs", "iam.serviceAccounts.get", "iam.serviceAccounts.list"},
	"roles/secretmanager.secretAccessor": {"secretmanager.versions.access"},
	"roles/artifactregistry.writer":      {"artifactregistry.repositories.uploadArtifacts", "artifactregistry.repositories.downloadArtifacts"},
	"roles/storage.objectUser":           {"storage.objects."},
	"roles/logging.logWriter":            {"logging.logEntries.create"},
	"roles/monitoring.metricWriter":      {"monitoring.timeSeries.create"},
	"roles/run.invoker":                  {"run.jobs.run", "run.routes.invoke"},
}

// escalating are roles the deployer must never hold: they grant roles,
// administer or impersonate accounts, read any secret, change the trigger,
// enable APIs, or own the project.
var escalating = []string{
	"roles/owner", "roles/editor", "roles/iam.securityAdmin", "roles/iam.serviceAccountAdmin",
	"roles/iam.serviceAccountTokenCreator", "roles/iam.serviceAccountKeyAdmin", "roles/iam.workloadIdentityUser",
	"roles/resourcemanager.projectIamAdmin", "roles/secretmanager.admin", "roles/serviceusage.serviceUsageAdmin",
	"roles/cloudbuild.builds.editor", "roles/cloudbuild.builds.builder", "roles/cloudbuild.connectionAdmin",
	"roles/storage.admin", "roles/artifactregistry.admin", "roles/artifactregistry.repoAdmin",
}

func covers(role, perm string) bool {
	for _, p := range includes[role] {
		if strings.HasPrefix(perm, p) || (strings.HasSuffix(perm, ".") && strings.HasPrefix(p, perm)) {
			return true
		}
	}
	return false
}

// TestPermissionsTable holds terraform/README.md's permissions table, the
// bootstrap's grants and the resources of the pipeline's module together.
func TestPermissionsTable(t *testing.T) {
	t.Parallel()
	rows := permissionsTable(t)
	grants := bootstrapGrants(t)
	justified := func(account, role, on string) bool {
		return slices.ContainsFunc(rows, func(r row) bool { return r.account == account && r.role == role && r.on == on })
	}

	// Every grant of the bootstrap is justified by a row, and every row of
	// a bootstrap scope is a grant (a stale row justifies nothing).
	for _, g := range grants {
		if !justified(g.Account, g.Role, g.On) {
			t.Errorf("grants.json grants %s %s on %s, which the permissions table does not justify", g.Account, g.Role, g.On)
		}
	}
	for _, r := range rows {
		if strings.Contains(r.on, "(this module)") {
			continue
		}
		if !slices.Contains(grants, grant{r.account, r.role, r.on}) {
			t.Errorf("the table justifies %s %s on %s, which nothing grants", r.account, r.role, r.on)
		}
	}

	// Roles appear in the bootstrap's HCL only through grants.json.
	for name, text := range hcl(t, "../../terraform/bootstrap") {
		if m := roleLiteral.FindAllString(text, -1); len(m) > 0 {
			t.Errorf("bootstrap/%s grants %v outside grants.json", name, m)
		}
	}
	// The pipeline's module grants only what the table says it does.
	module := hcl(t, "../../terraform")
	for name, text := range module {
		for _, m := range roleLiteral.FindAllString(text, -1) {
			role := strings.Trim(m, `"`)
			if !slices.ContainsFunc(rows, func(r row) bool { return r.role == role && strings.Contains(r.on, "(this module)") }) {
				t.Errorf("terraform/%s grants %s, which the permissions table does not justify", name, role)
			}
		}
	}

	// Every Google resource type of the pipeline's module is named by a
	// deployer row whose role holds the permission it needs.
	types := map[string]bool{}
	for _, text := range module {
		for _, m := range resourceType.FindAllStringSubmatch(text, -1) {
			if strings.HasPrefix(m[2], "google_") {
				types[m[2]] = true
			}
		}
	}
	if len(types) == 0 {
		t.Fatal("no google resource type found in terraform/*.tf")
	}
	for typ := range types {
		perms, ok := needs[typ]
		if !ok {
			t.Errorf("terraform/ manages %s, whose permissions this test does not know: add it to needs", typ)
			continue
		}
		for _, perm := range perms {
			if !slices.ContainsFunc(rows, func(r row) bool {
				return r.account == "deployer" && covers(r.role, perm) && slices.Contains(namedTypes(r.neededBy), typ)
			}) {
				t.Errorf("no deployer row names %s with a role that holds %s", typ, perm)
			}
		}
	}
	// And no row justifies a type the module no longer has.
	for _, r := range rows {
		for _, typ := range namedTypes(r.neededBy) {
			if !types[typ] {
				t.Errorf("the row %s %s names %s, which terraform/ does not manage", r.account, r.role, typ)
			}
		}
	}

	// The deployer: no escalating role, acts only as the runtime and
	// scheduler accounts, reads no secret but the Slack token.
	for _, g := range grants {
		if g.Account != "deployer" {
			continue
		}
		if slices.Contains(escalating, g.Role) {
			t.Errorf("the deployer holds %s on %s: whatever can push to main could take the project", g.Role, g.On)
		}
		if g.Role == "roles/iam.serviceAccountUser" && g.On != "account:runtime" && g.On != "account:scheduler" {
			t.Errorf("the deployer may act as %s", g.On)
		}
		if strings.HasPrefix(g.On, "secret:") && g.On != "secret:slack_token" {
			t.Errorf("the deployer holds %s on %s", g.Role, g.On)
		}
		if g.On == "project" && strings.HasPrefix(g.Role, "roles/secretmanager.") {
			t.Errorf("the deployer holds %s on the whole project", g.Role)
		}
	}
	// The runtime account holds what the job uses, nothing else.
	var runtime []string
	for _, g := range grants {
		if g.Account == "runtime" {
			runtime = append(runtime, g.Role+" "+g.On)
		}
	}
	slices.Sort(runtime)
	// (secret:bacalhau_api_ca is granted only when the env has a private CA.)
	if want := []string{"roles/monitoring.metricWriter project", "roles/secretmanager.secretAccessor secret:bacalhau_api_ca", "roles/secretmanager.secretAccessor secret:bacalhau_api_key"}; !slices.Equal(runtime, want) {
		t.Errorf("runtime holds %v, want %v", runtime, want)
	}
}

func namedTypes(s string) []string {
	var out []string
	for _, m := range namedType.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestPermissionsTableCatchesAGap: the table without logging.configWriter
// (the deployer's roles before the log metric was covered) fails the
// coverage check for google_logging_metric.
func TestPermissionsTableCatchesAGap(t *testing.T) {
	t.Parallel()
	for _, r := range permissionsTable(t) {
		if r.account == "deployer" && r.role != "roles/logging.configWriter" && covers(r.role, "logging.logMetrics.get") {
			t.Errorf("%s is said to hold logging.logMetrics.get", r.role)
		}
	}
	if covers("roles/monitoring.editor", "logging.logMetrics.") {
		t.Error("monitoring.editor is said to cover log-based metrics; it does not")
	}
}
