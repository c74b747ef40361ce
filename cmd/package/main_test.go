package main

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"detachkeypair/deploy"
)

// fakeFiles writes a stand-in handler binary and a second file into a new directory and
// returns their paths. The contents are fixed, so two calls give equal files.
func fakeFiles(t *testing.T, binMode, otherMode os.FileMode) (bin, other string) {
	t.Helper()
	dir := t.TempDir()
	bin = filepath.Join(dir, deploy.BinaryName)
	other = filepath.Join(dir, "NOTICE")
	content := bytes.Repeat([]byte("\x7fELF not really a binary\n"), 4096)
	if err := os.WriteFile(bin, content, binMode); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(other, []byte("third-party notices\n"), otherMode); err != nil {
		t.Fatal(err)
	}
	// Write mode is subject to the umask; set the modes exactly.
	for path, mode := range map[string]os.FileMode{bin: binMode, other: otherMode} {
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	return bin, other
}

// TestReproducible packages the same files twice, from different directories, with
// different modification times, permissions and argument order, and expects the same
// bytes: nothing of the build machine or the moment gets into the zip.
func TestReproducible(t *testing.T) {
	bin1, other1 := fakeFiles(t, 0o700, 0o600)
	bin2, other2 := fakeFiles(t, 0o755, 0o644)
	later := time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)
	for _, p := range []string{bin2, other2} {
		if err := os.Chtimes(p, later, later); err != nil {
			t.Fatal(err)
		}
	}

	out1 := filepath.Join(t.TempDir(), "a.zip")
	out2 := filepath.Join(t.TempDir(), "b.zip")
	if err := Write(out1, []string{bin1, other1}); err != nil {
		t.Fatal(err)
	}
	if err := Write(out2, []string{other2, bin2}); err != nil {
		t.Fatal(err)
	}
	a, b := readFile(t, out1), readFile(t, out2)
	if !bytes.Equal(a, b) {
		t.Fatalf("the same files gave different zips (%d and %d bytes)", len(a), len(b))
	}

	// And again over an existing zip: the result replaces it, same bytes.
	if err := Write(out1, []string{bin1, other1}); err != nil {
		t.Fatal(err)
	}
	if c := readFile(t, out1); !bytes.Equal(a, c) {
		t.Fatal("packaging again over the old zip changed its bytes")
	}
}

// TestEntries checks what FC will unpack: the handler binary named deploy.BinaryName with
// mode 0755, the files in name order, fixed times and no extra fields.
func TestEntries(t *testing.T) {
	bin, other := fakeFiles(t, 0o600, 0o600) // not executable on disk: main must still be 0755
	out := filepath.Join(t.TempDir(), "code.zip")
	var stdout bytes.Buffer
	if err := run([]string{"-o", out, bin, other}, &stdout); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "sha256 ") {
		t.Errorf("stdout = %q, want the zip's size and sha256", stdout.String())
	}

	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if zr.Comment != "" {
		t.Errorf("zip comment = %q, want none", zr.Comment)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
		if len(f.Extra) != 0 {
			t.Errorf("%s: extra field %x, want none (timestamps, uid/gid vary by machine)", f.Name, f.Extra)
		}
		if f.ModifiedDate != dosEpochDate || f.ModifiedTime != 0 {
			t.Errorf("%s: modified %v, want 1980-01-01 00:00", f.Name, f.Modified)
		}
		if f.CreatorVersion>>8 != 3 {
			t.Errorf("%s: creator OS %d, want 3 (Unix) so that the mode is honoured", f.Name, f.CreatorVersion>>8)
		}
		if f.Method != zip.Deflate {
			t.Errorf("%s: method %d, want deflate", f.Name, f.Method)
		}
		want := os.FileMode(0o644)
		if f.Name == deploy.BinaryName {
			want = 0o755
		}
		if got := f.Mode(); got != want {
			t.Errorf("%s: mode %v, want %v", f.Name, got, want)
		}
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		src := map[string]string{deploy.BinaryName: bin, "NOTICE": other}[f.Name]
		if !bytes.Equal(got, readFile(t, src)) {
			t.Errorf("%s: content differs from %s", f.Name, src)
		}
	}
	if want := []string{"NOTICE", deploy.BinaryName}; strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("entries %v, want %v (name order)", names, want)
	}
}

// TestExecutableKept checks that a file other than the handler keeps its run bit.
func TestExecutableKept(t *testing.T) {
	bin, other := fakeFiles(t, 0o755, 0o750)
	out := filepath.Join(t.TempDir(), "code.zip")
	if err := Write(out, []string{bin, other}); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if f.Mode() != 0o755 {
			t.Errorf("%s: mode %v, want 0755", f.Name, f.Mode())
		}
	}
}

func TestRefusals(t *testing.T) {
	bin, other := fakeFiles(t, 0o755, 0o644)
	dir := t.TempDir()
	sameName := filepath.Join(dir, deploy.BinaryName)
	if err := os.WriteFile(sameName, []byte("x"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "code.zip")
	for _, tc := range []struct {
		name  string
		files []string
		want  string
	}{
		{"no handler binary", []string{other}, `handler binary "` + deploy.BinaryName + `"`},
		{"two files, one name", []string{bin, sameName}, "would both be stored as"},
		{"a directory", []string{bin, dir}, "not a regular file"},
		{"a missing file", []string{bin, filepath.Join(dir, "nope")}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Write(out, tc.files)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Write(%v) = %v, want an error containing %q", tc.files, err, tc.want)
			}
			if _, err := os.Stat(out); !os.IsNotExist(err) {
				t.Errorf("a refused Write left %s behind (%v)", out, err)
			}
		})
	}
	if err := run(nil, io.Discard); err == nil {
		t.Error("run with no files succeeded, want an error")
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".package-") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
