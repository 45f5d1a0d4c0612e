results db: run 20261120-020000-sim stored in sqlite:////tmp/resultsdb-legacy/results-0.1.0.sqlite
report: /tmp/resultsdb-legacy/reports/20261120-020000-sim/report.html
report: /tmp/resultsdb-legacy/reports/20261120-020000-sim/report.pdf
manifest: /tmp/resultsdb-legacy/reports/20261120-020000-sim/manifest.json sha256 c31a41f7c4648b8380a148447b952729c594d8a764e1473187dba22d95dbc12f
No earlier runs on rig sim with the same seeded faults: nothing to compare with yet.
results db: run 20261121-020000-sim stored in sqlite:////tmp/resultsdb-legacy/results-0.1.0.sqlite
report: /tmp/resultsdb-legacy/reports/20261121-020000-sim/report.html
report: /tmp/resultsdb-legacy/reports/20261121-020000-sim/report.pdf
manifest: /tmp/resultsdb-legacy/reports/20261121-020000-sim/manifest.json sha256 6007943024394329c310a4ddc95e6818716ef6b7ef4e48473aa8def69ef02fc4
Compared with 1 earlier run(s) on rig sim (20261120-020000-sim .. 20261120-020000-sim): no regression.
results db: run 20261122-020000-sim stored in sqlite:////tmp/resultsdb-legacy/results-0.1.0.sqlite
report: /tmp/resultsdb-legacy/reports/20261122-020000-sim/report.html
report: /tmp/resultsdb-legacy/reports/20261122-020000-sim/report.pdf
manifest: /tmp/resultsdb-legacy/reports/20261122-020000-sim/manifest.json sha256 3948c2457452826136c4f57e9e5728ebe4ec8aa4f6cb30c8bfc2e8e7d39207ec
Compared with 2 earlier run(s) on rig sim (20261120-020000-sim .. 20261121-020000-sim): 1 regression finding(s).
  REGRESSION new_failure: UI-LED: fails now; was pass in 20261121-020000-sim (tests: testcases/test_ui.py::test_led_shows_meter_communication)
results db: run 20261123-020000-sim stored in sqlite:////tmp/resultsdb-legacy/results-0.1.0.sqlite
report: /tmp/resultsdb-legacy/reports/20261123-020000-sim/report.html
report: /tmp/resultsdb-legacy/reports/20261123-020000-sim/report.pdf
manifest: /tmp/resultsdb-legacy/reports/20261123-020000-sim/manifest.json sha256 e72c500027f4623f8ffe7a7926c0a344841a8e81313039c1853f332348468819
No earlier runs on rig sim with the same seeded faults: nothing to compare with yet.
CREATE INDEX ix_measurements_run_pk ON measurements (run_pk);
CREATE INDEX ix_measurements_series ON measurements (name, conditions);
CREATE INDEX ix_requirement_verdicts_requirement ON requirement_verdicts (requirement);
CREATE INDEX ix_requirement_verdicts_run_pk ON requirement_verdicts (run_pk);
CREATE INDEX ix_runs_rig ON runs (rig);
CREATE INDEX ix_runs_started ON runs (started);
CREATE INDEX ix_test_results_nodeid ON test_results (nodeid);
CREATE INDEX ix_test_results_run_pk ON test_results (run_pk);
CREATE TABLE measurements (
	pk INTEGER NOT NULL, 
	run_pk INTEGER NOT NULL, 
	test VARCHAR(500) NOT NULL, 
	name VARCHAR(120) NOT NULL, 
	conditions VARCHAR(500) NOT NULL, 
	value FLOAT, 
	unit VARCHAR(20) NOT NULL, 
	low FLOAT, 
	high FLOAT, 
	uncertainty FLOAT NOT NULL, 
	verdict VARCHAR(20) NOT NULL, 
	requirement VARCHAR(80), 
	timestamp VARCHAR(40) NOT NULL, 
	PRIMARY KEY (pk), 
	FOREIGN KEY(run_pk) REFERENCES runs (pk) ON DELETE CASCADE
);
CREATE TABLE requirement_verdicts (
	pk INTEGER NOT NULL, 
	run_pk INTEGER NOT NULL, 
	requirement VARCHAR(80) NOT NULL, 
	verdict VARCHAR(20) NOT NULL, 
	tests TEXT NOT NULL, 
	PRIMARY KEY (pk), 
	FOREIGN KEY(run_pk) REFERENCES runs (pk) ON DELETE CASCADE
);
CREATE TABLE runs (
	pk INTEGER NOT NULL, 
	run_id VARCHAR(120) NOT NULL, 
	rig VARCHAR(120) NOT NULL, 
	rig_file VARCHAR(500) NOT NULL, 
	simulated BOOLEAN NOT NULL, 
	faults TEXT NOT NULL, 
	instruments_json TEXT NOT NULL, 
	started VARCHAR(40) NOT NULL, 
	finished VARCHAR(40), 
	duration_s FLOAT, 
	verdict VARCHAR(20), 
	nightly BOOLEAN NOT NULL, 
	dut_id VARCHAR(40), 
	dut_manufacturer VARCHAR(10), 
	dut_version INTEGER, 
	dut_medium INTEGER, 
	dut_firmware VARCHAR(80), 
	harness_version VARCHAR(40) NOT NULL, 
	git_commit VARCHAR(64), 
	operator VARCHAR(120), 
	run_dir VARCHAR(500), 
	manifest_sha256 VARCHAR(64), 
	PRIMARY KEY (pk), 
	UNIQUE (run_id)
);
CREATE TABLE test_results (
	pk INTEGER NOT NULL, 
	run_pk INTEGER NOT NULL, 
	nodeid VARCHAR(500) NOT NULL, 
	outcome VARCHAR(20) NOT NULL, 
	duration_s FLOAT NOT NULL, 
	requirements TEXT NOT NULL, 
	message TEXT, 
	PRIMARY KEY (pk), 
	FOREIGN KEY(run_pk) REFERENCES runs (pk) ON DELETE CASCADE
);
