/* empty css              */import{b as r}from"./common-DbPCUMAf.js";import{s as m}from"./session-page-WrT14bHx.js";import"./codemirror-BuOZTuyX.js";m(r("app"),{embed:!0});
