/* empty css              */import{b as r}from"./common-DbPCUMAf.js";import{s as m}from"./session-page-BDFGo3Na.js";import"./codemirror-DPxXkZNZ.js";m(r("app"),{embed:!0});
