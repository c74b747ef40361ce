// Command package writes the function's code zip for Function Compute, reproducibly: the
// same files give the same zip, byte for byte, whoever builds it and whenever.
//
//	go run ./cmd/package -o dist/detach-keypair.zip dist/main
//
// Each file is stored under its base name, in name order, deflated, with a fixed
// modification time (1980-01-01 00:00, the zip format's epoch), Unix permissions and
// no extra fields (no timestamps, uid or gid). The handler binary (deploy.BinaryName)
// must be one of the files; it is stored with mode 0755 so that FC can run it. Other
// files get 0755 when executable on disk, else 0644.
//
// `make package` builds the binary and runs this command; see deploy/README.md.
package main

import (
	"archive/zip"
	"cmp"
	"compress/flate"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"detachkeypair/deploy"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "package:", err)
		os.Exit(1)
	}
}

// run parses the command line and writes the zip; it reports the zip's size and sha256
// on stdout.
func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("package", flag.ContinueOnError)
	out := fs.String("o", deploy.ZipPath, "the zip to write")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: package [-o zip] file...\n\n"+
			"Writes a reproducible code zip holding each file under its base name;\n"+
			"one file must be the handler binary %q.\n\n", deploy.BinaryName)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("no files to package: give the handler binary, e.g. dist/" + deploy.BinaryName)
	}
	if err := Write(*out, fs.Args()); err != nil {
		return err
	}
	data, err := os.ReadFile(*out)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d bytes, sha256 %x\n", *out, len(data), sha256.Sum256(data))
	return nil
}

// Write writes the zip of files to path, replacing it atomically: a reader never sees a
// half-written zip, and a failure leaves the old one in place.
func Write(path string, files []string) (err error) {
	entries, err := plan(files)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".package-*.zip")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := writeZip(tmp, entries); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// entry is one file to store: where it is on disk, its name and mode in the zip.
type entry struct {
	src  string
	name string
	mode os.FileMode
}

// plan checks the files and decides each one's name and mode, in name order.
func plan(files []string) ([]entry, error) {
	var entries []entry
	seen := map[string]string{}
	for _, src := range files {
		info, err := os.Stat(src)
		if err != nil {
			return nil, err
		}
		if !info.Mode().IsRegular() {
			return nil, fmt.Errorf("%s is not a regular file; give files, not directories", src)
		}
		name := filepath.Base(src)
		if other, dup := seen[name]; dup {
			return nil, fmt.Errorf("%s and %s would both be stored as %q; rename one", other, src, name)
		}
		seen[name] = src
		mode := os.FileMode(0o644)
		if name == deploy.BinaryName || info.Mode().Perm()&0o111 != 0 {
			mode = 0o755
		}
		entries = append(entries, entry{src: src, name: name, mode: mode})
	}
	if _, ok := seen[deploy.BinaryName]; !ok {
		return nil, fmt.Errorf("none of the files is the handler binary %q (FC runs the file the handler names); build it with `make package`", deploy.BinaryName)
	}
	slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(a.name, b.name) })
	return entries, nil
}

// dosEpochDate is 1980-01-01 in MS-DOS date format ((year-1980)<<9 | month<<5 | day);
// with time 0 it is 00:00:00, the earliest time a zip header can hold.
const dosEpochDate = 0<<9 | 1<<5 | 1

// writeZip writes the entries as a zip to w.
func writeZip(w io.Writer, entries []entry) error {
	zw := zip.NewWriter(w)
	// Deflate at a fixed level; compress/flate's output depends only on the input and
	// the level (for one Go release), so the bytes are reproducible.
	zw.RegisterCompressor(zip.Deflate, func(out io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(out, flate.BestCompression)
	})
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		// Set the MS-DOS time fields and leave Modified zero: archive/zip then writes no
		// extended-timestamp extra field, so the header carries nothing from the build.
		h.ModifiedDate = dosEpochDate
		h.ModifiedTime = 0
		h.SetMode(e.mode)
		fw, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if err := copyFile(fw, e.src); err != nil {
			return err
		}
	}
	return zw.Close()
}

func copyFile(w io.Writer, src string) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}
