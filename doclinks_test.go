package coregate

import (
	"go/ast"
	"go/doc"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"io/fs"
	"strings"
	"testing"
)

// docPackages are the module's documented packages, by directory.
var docPackages = map[string]string{
	".":          "github.com/coregate/coregate",
	"actors":     "github.com/coregate/coregate/actors",
	"anchor":     "github.com/coregate/coregate/anchor",
	"router":     "github.com/coregate/coregate/router",
	"supervisor": "github.com/coregate/coregate/supervisor",
	"wire":       "github.com/coregate/coregate/wire",
}

// TestDocLinks: every doc link ([Name], [Recv.Name], [pkg.Name]) in the
// doc comments of the module's packages names an identifier that exists,
// so a rename cannot leave a link that go doc quietly prints as plain text.
// Links to packages outside the module are not checked.
func TestDocLinks(t *testing.T) {
	syms := map[string]map[string]bool{} // import path -> "Name" and "Recv.Name"
	docs := map[string]*doc.Package{}
	fields := map[string][]string{} // import path -> field and interface method comments
	for dir, path := range docPackages {
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		var files []*ast.File
		for _, p := range pkgs {
			for _, f := range p.Files {
				files = append(files, f)
			}
		}
		d, err := doc.NewFromFiles(fset, files, path)
		if err != nil {
			t.Fatal(err)
		}
		docs[path], syms[path] = d, symbols(d, fields, path)
	}
	for path, d := range docs {
		p := d.Parser()
		p.LookupSym = func(string, string) bool { return true } // check every link below
		check := func(where, text string) {
			for _, l := range docLinks(p.Parse(text)) {
				target := l.ImportPath
				if target == "" {
					target = path
				}
				known, ours := syms[target]
				name := l.Name
				if l.Recv != "" {
					name = l.Recv + "." + l.Name
				}
				if ours && !known[name] {
					shown := name
					if l.ImportPath != "" {
						shown = l.ImportPath[strings.LastIndex(l.ImportPath, "/")+1:] + "." + name
					}
					t.Errorf("%s: %s: doc link [%s] names nothing in %s", path, where, shown, target)
				}
			}
		}
		check("package doc", d.Doc)
		for _, v := range append(d.Consts, d.Vars...) {
			check(strings.Join(v.Names, ", "), v.Doc)
		}
		for _, f := range d.Funcs {
			check(f.Name, f.Doc)
		}
		for _, typ := range d.Types {
			check(typ.Name, typ.Doc)
			for _, v := range append(typ.Consts, typ.Vars...) {
				check(strings.Join(v.Names, ", "), v.Doc)
			}
			for _, f := range append(typ.Funcs, typ.Methods...) {
				check(typ.Name+"."+f.Name, f.Doc)
			}
		}
		for _, text := range fields[path] {
			check("a field or interface method", text)
		}
	}
}

// symbols returns the exported names d declares, methods, fields and
// interface methods as "Recv.Name", and adds the comments of fields,
// interface methods and grouped values to fields.
func symbols(d *doc.Package, fields map[string][]string, path string) map[string]bool {
	s := map[string]bool{}
	values := func(vs []*doc.Value) {
		for _, v := range vs {
			for _, n := range v.Names {
				s[n] = true
			}
			for _, spec := range v.Decl.Specs {
				if vs := spec.(*ast.ValueSpec); vs.Doc != nil {
					fields[path] = append(fields[path], vs.Doc.Text())
				}
			}
		}
	}
	values(d.Consts)
	values(d.Vars)
	for _, f := range d.Funcs {
		s[f.Name] = true
	}
	for _, typ := range d.Types {
		s[typ.Name] = true
		values(typ.Consts)
		values(typ.Vars)
		for _, f := range typ.Funcs {
			s[f.Name] = true
		}
		for _, m := range typ.Methods {
			s[typ.Name+"."+m.Name] = true
		}
		var list *ast.FieldList
		switch tt := typ.Decl.Specs[0].(*ast.TypeSpec).Type.(type) {
		case *ast.StructType:
			list = tt.Fields
		case *ast.InterfaceType:
			list = tt.Methods
		}
		if list == nil {
			continue
		}
		for _, f := range list.List {
			for _, n := range f.Names {
				s[typ.Name+"."+n.Name] = true
			}
			if len(f.Names) == 0 { // embedded: its name is its type's
				if id, ok := ast.Unparen(f.Type).(*ast.Ident); ok {
					s[typ.Name+"."+id.Name] = true
				}
			}
			if f.Doc != nil {
				fields[path] = append(fields[path], f.Doc.Text())
			}
		}
	}
	return s
}

// docLinks returns the doc links of c, in its paragraphs, lists and
// headings.
func docLinks(c *comment.Doc) []*comment.DocLink {
	var links []*comment.DocLink
	var walk func([]comment.Text)
	walk = func(ts []comment.Text) {
		for _, t := range ts {
			switch t := t.(type) {
			case *comment.DocLink:
				links = append(links, t)
			case *comment.Link:
				walk(t.Text)
			}
		}
	}
	var blocks func([]comment.Block)
	blocks = func(bs []comment.Block) {
		for _, b := range bs {
			switch b := b.(type) {
			case *comment.Paragraph:
				walk(b.Text)
			case *comment.Heading:
				walk(b.Text)
			case *comment.List:
				for _, item := range b.Items {
					blocks(item.Content)
				}
			}
		}
	}
	blocks(c.Content)
	return links
}
